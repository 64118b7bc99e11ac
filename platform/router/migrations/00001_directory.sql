-- +goose Up
-- The global directory: which region serves a clinic. Nothing personal here:
-- no clinic name, no owner, no e-mail.
CREATE TABLE clinics (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    region     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX clinics_status_created ON clinics (status, created_at);

-- Sign-up answers remembered by Idempotency-Key (hashed) for 24 hours.
CREATE TABLE idempotency_keys (
    key_hash    TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE clinics;
