-- +goose Up
-- Events waiting for the relay. A row is written in the same transaction as
-- the change it describes; published_at is set once the broker acknowledged
-- it. The index serves the relay's scan of unpublished rows in id order.
CREATE TABLE audit_outbox (
    id           TEXT PRIMARY KEY,
    clinic_id    TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP NULL
);
CREATE INDEX audit_outbox_published_id ON audit_outbox (published_at, id);

-- +goose Down
DROP TABLE audit_outbox;
