-- +goose Up
-- A service table with encrypted columns: id and clinic_id come first so
-- they are scanned before the encrypted columns that need them.
CREATE TABLE patients (
    id           TEXT PRIMARY KEY,
    clinic_id    TEXT NOT NULL,
    email        TEXT NOT NULL,
    email_lookup TEXT NOT NULL,
    phone        TEXT NULL,
    notes        TEXT NOT NULL,
    photo        BYTEA NULL
);
CREATE INDEX patients_email_lookup ON patients (clinic_id, email_lookup);

-- +goose Down
DROP TABLE patients;
