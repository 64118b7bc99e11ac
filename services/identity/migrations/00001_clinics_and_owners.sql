-- +goose Up
-- The regional clinic record. The global directory holds only id, slug,
-- region and status; name, country and time zone live here, in the region.
CREATE TABLE clinics (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    country    TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Accounts are per clinic: the same e-mail in two clinics is two accounts.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    clinic_id     TEXT NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_clinic_email ON users (clinic_id, email);

-- +goose Down
DROP TABLE users;
DROP TABLE clinics;
