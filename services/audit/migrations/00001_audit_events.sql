-- +goose Up
-- Events consumed from the region's audit topic, stored idempotently by
-- event id. The per-clinic hash chain and signed digests arrive with the
-- audit pipeline.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_clinic_time ON audit_events (clinic_id, occurred_at);

-- +goose Down
DROP TABLE audit_events;
