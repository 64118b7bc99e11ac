-- +goose Up
CREATE TABLE things (id TEXT PRIMARY KEY, starts_at TIMESTAMP NOT NULL, ends_at TIMESTAMP NOT NULL);
-- +goose Down
DROP TABLE things;
