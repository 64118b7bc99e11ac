-- +goose Up
-- Appointments. A practitioner is never double-booked: overlapping
-- appointments of one practitioner that hold the time (every status but
-- cancelled) are refused by the database itself — an exclusion constraint
-- on PostgreSQL, a trigger on SQLite, whose writers are serialised (BEGIN
-- IMMEDIATE) — see 00003 in postgres/ and sqlite/. Times are UTC; end is
-- exclusive, so back-to-back appointments do not overlap.
CREATE TABLE appointments (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL,
    practitioner_id TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    treatment_id    TEXT NOT NULL,
    location_id     TEXT NOT NULL,
    starts_at       TIMESTAMP NOT NULL,
    ends_at         TIMESTAMP NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('booked', 'arrived', 'completed', 'no_show', 'cancelled')),
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_practitioner_time ON appointments (clinic_id, practitioner_id, starts_at);
CREATE INDEX appointments_patient ON appointments (clinic_id, patient_id, starts_at);

-- +goose Down
DROP TABLE appointments;
