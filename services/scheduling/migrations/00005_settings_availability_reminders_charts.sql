-- +goose Up
-- A clinic's scheduling settings: the IANA time zone its availability is
-- written in (UTC until set) and its reminder offsets and channels (JSON
-- arrays of minutes and channel names).
CREATE TABLE clinic_settings (
    clinic_id         TEXT PRIMARY KEY,
    time_zone         TEXT NOT NULL,
    reminder_offsets  TEXT NOT NULL,
    reminder_channels TEXT NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

-- Weekly availability on the clinic's wall clock: weekday 0 is Sunday,
-- times are minutes after local midnight, end exclusive (1440 is 24:00).
-- location_id is empty for a span at no location in particular. (Locations
-- keep the clinic's zone: locations.time_zone stays empty.)
CREATE TABLE availability_weekly (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL,
    practitioner_id TEXT NOT NULL,
    weekday         INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_minute    INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute      INTEGER NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    location_id     TEXT NOT NULL,
    CHECK (end_minute > start_minute)
);
CREATE INDEX availability_weekly_practitioner ON availability_weekly (clinic_id, practitioner_id);

-- Dates whose exceptions replace the weekly pattern: closed, or open for
-- the span (on_date is YYYY-MM-DD on the clinic's calendar).
CREATE TABLE availability_exceptions (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL,
    practitioner_id TEXT NOT NULL,
    on_date         TEXT NOT NULL,
    closed          BOOLEAN NOT NULL,
    start_minute    INTEGER NOT NULL,
    end_minute      INTEGER NOT NULL,
    location_id     TEXT NOT NULL
);
CREATE INDEX availability_exceptions_practitioner ON availability_exceptions (clinic_id, practitioner_id, on_date);

-- Reminder outbox: every booking, reschedule and cancellation adds a row in
-- its own transaction; a row is done once the reminder workflow was told.
CREATE TABLE reminder_sync (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL,
    appointment_id  TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('booked', 'rescheduled', 'cancelled')),
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    done_at         TIMESTAMP
);
CREATE INDEX reminder_sync_pending ON reminder_sync (next_attempt_at) WHERE done_at IS NULL;
CREATE INDEX reminder_sync_appointment ON reminder_sync (clinic_id, appointment_id);

-- Appointments with a signed chart entry, from charting's chart.signed
-- events (the first signed entry of each appointment).
CREATE TABLE chart_signatures (
    clinic_id      TEXT NOT NULL,
    appointment_id TEXT NOT NULL,
    entry_id       TEXT NOT NULL,
    signed_at      TIMESTAMP NOT NULL,
    recorded_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (clinic_id, appointment_id)
);
CREATE INDEX appointments_clinic_end ON appointments (clinic_id, ends_at);

-- +goose Down
DROP INDEX appointments_clinic_end;
DROP TABLE chart_signatures;
DROP TABLE reminder_sync;
DROP TABLE availability_exceptions;
DROP TABLE availability_weekly;
DROP TABLE clinic_settings;
