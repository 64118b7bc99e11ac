-- +goose Up
-- The activity report filters by resource id too ("what was done to user X").
-- On SQLite (development) existing rows are filled from their hashed payload,
-- the append-only trigger lifted for that one statement. PostgreSQL has no
-- JSON syntax in common with SQLite and Haven has no PostgreSQL deployment
-- older than this migration; one that had would run, as the schema owner:
--   UPDATE audit_chain SET resource_id = COALESCE(payload::json ->> 'resource_id', '');
ALTER TABLE audit_chain ADD COLUMN resource_id TEXT NOT NULL DEFAULT '';

-- +goose StatementBegin
/* /* SQLite only */
DROP TRIGGER audit_chain_no_update;
/* */ -- */
-- +goose StatementEnd

-- +goose StatementBegin
/* /* SQLite only */
UPDATE audit_chain SET resource_id = COALESCE(json_extract(payload, '$.resource_id'), '');
/* */ -- */
-- +goose StatementEnd

-- +goose StatementBegin
/* /* SQLite only */
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
/* */ -- */
-- +goose StatementEnd

CREATE INDEX audit_chain_clinic_resource ON audit_chain (clinic_id, resource_id, occurred_at);

-- +goose Down
DROP INDEX audit_chain_clinic_resource;
ALTER TABLE audit_chain DROP COLUMN resource_id;
