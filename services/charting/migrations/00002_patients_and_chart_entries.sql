-- +goose Up
-- Patients. Every personal field is encrypted under the clinic's key
-- (libs/fieldcrypt; the column holds base64 ciphertext, or '' when empty).
-- Search goes through the *_lookup columns: keyed hashes (Crypter.Lookup) of
-- the normalised e-mail, E.164 phone, date of birth, last name and full name.
-- id and clinic_id come first: the fieldcrypt serializer reads them before
-- the encrypted columns.
CREATE TABLE patients (
    id                TEXT PRIMARY KEY,
    clinic_id         TEXT NOT NULL,
    first_name        TEXT NOT NULL,
    last_name         TEXT NOT NULL,
    preferred_name    TEXT NOT NULL,
    date_of_birth     TEXT NOT NULL,
    sex               TEXT NOT NULL,
    gender            TEXT NOT NULL,
    email             TEXT NOT NULL,
    phone             TEXT NOT NULL,
    address           TEXT NOT NULL,
    emergency_contact TEXT NOT NULL,
    alert             TEXT NOT NULL,
    email_lookup      TEXT NULL,
    phone_lookup      TEXT NULL,
    dob_lookup        TEXT NOT NULL,
    last_name_lookup  TEXT NOT NULL,
    full_name_lookup  TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX patients_clinic_email ON patients (clinic_id, email_lookup);
CREATE INDEX patients_clinic_phone ON patients (clinic_id, phone_lookup);
CREATE INDEX patients_clinic_dob ON patients (clinic_id, dob_lookup);
CREATE INDEX patients_clinic_last_name ON patients (clinic_id, last_name_lookup);
CREATE INDEX patients_clinic_full_name ON patients (clinic_id, full_name_lookup);

-- Who may read a patient's whole chart: practitioners who wrote an entry
-- for them (reason 'treated', added with the entry) and practitioners an
-- owner or admin assigned (reason 'assigned').
CREATE TABLE patient_practitioners (
    clinic_id       TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    practitioner_id TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('treated', 'assigned')),
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (patient_id, practitioner_id)
);
CREATE INDEX patient_practitioners_clinic ON patient_practitioners (clinic_id, practitioner_id);

-- Chart entries. Notes and attendees are encrypted. A signed entry is
-- locked: signed_at, signed_by, the SHA-256 of its canonical content and
-- the id of the chart.sign audit event are set once and never change.
CREATE TABLE chart_entries (
    id               TEXT PRIMARY KEY,
    clinic_id        TEXT NOT NULL,
    patient_id       TEXT NOT NULL,
    author_id        TEXT NOT NULL,
    notes            TEXT NOT NULL,
    attendees        TEXT NOT NULL,
    appointment_id   TEXT NULL,
    occurred_on      TEXT NOT NULL,
    duration_minutes INTEGER NULL,
    status           TEXT NOT NULL CHECK (status IN ('draft', 'signed')),
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    signed_at        TIMESTAMP NULL,
    signed_by        TEXT NULL,
    content_sha256   TEXT NULL,
    sign_event_id    TEXT NULL
);
CREATE INDEX chart_entries_patient ON chart_entries (clinic_id, patient_id, occurred_on);

-- Amendments: append-only, each signed (locked) when it is written. seq
-- orders them per entry; each hash covers the previous one, so the original
-- and its amendments form a chain.
CREATE TABLE chart_amendments (
    id             TEXT PRIMARY KEY,
    clinic_id      TEXT NOT NULL,
    entry_id       TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    author_id      TEXT NOT NULL,
    notes          TEXT NOT NULL,
    signed_at      TIMESTAMP NOT NULL,
    content_sha256 TEXT NOT NULL,
    sign_event_id  TEXT NOT NULL
);
CREATE UNIQUE INDEX chart_amendments_entry_seq ON chart_amendments (entry_id, seq);

-- Events for other services (chart.signed), written in the same transaction
-- as the change and published by the relay to haven.<region>.charting.v1.
-- Payloads carry ids only.
CREATE TABLE charting_outbox (
    id           TEXT PRIMARY KEY,
    clinic_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP NULL
);
CREATE INDEX charting_outbox_published_id ON charting_outbox (published_at, id);

-- +goose Down
DROP TABLE charting_outbox;
DROP TABLE chart_amendments;
DROP TABLE chart_entries;
DROP TABLE patient_practitioners;
DROP TABLE patients;
