-- +goose Up
-- Practitioners are identity users who see patients; treatments are what
-- can be booked, with their length and price.
CREATE TABLE practitioners (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (clinic_id, user_id)
);

CREATE TABLE treatments (
    id               TEXT PRIMARY KEY,
    clinic_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    price_cents      BIGINT NOT NULL CHECK (price_cents >= 0),
    online_bookable  BOOLEAN NOT NULL,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX treatments_clinic ON treatments (clinic_id);

-- +goose Down
DROP TABLE treatments;
DROP TABLE practitioners;
