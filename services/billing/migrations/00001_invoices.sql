-- +goose Up
-- Invoices in minor units of their currency; payments hold processor
-- tokens only, never card numbers (later migrations).
CREATE TABLE invoices (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL,
    number      TEXT NOT NULL,
    status      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX invoices_clinic_number ON invoices (clinic_id, number);

-- +goose Down
DROP TABLE invoices;
