-- +goose Up
-- Locations are where a clinic sees patients; practitioners, treatments and
-- appointments build on them in later migrations.
CREATE TABLE locations (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX locations_clinic ON locations (clinic_id);

-- +goose Down
DROP TABLE locations;
