-- +goose Up
-- PostgreSQL only: a syntax SQLite cannot parse.
ALTER TABLE things ADD CONSTRAINT things_no_overlap EXCLUDE USING gist (tsrange(starts_at, ends_at) WITH &&);
-- +goose Down
ALTER TABLE things DROP CONSTRAINT things_no_overlap;
