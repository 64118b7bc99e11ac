-- +goose Up
-- Closing a clinic: the owner asks, a grace period passes (export first),
-- then the clinic's Vault key is destroyed and every field it encrypted —
-- in this database and in any backup — becomes unreadable.
ALTER TABLE clinics ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE clinics ADD COLUMN closes_at TIMESTAMP;
ALTER TABLE clinics ADD COLUMN closed_at TIMESTAMP;
CREATE INDEX clinics_status_closes ON clinics (status, closes_at);

-- +goose Down
DROP INDEX clinics_status_closes;
ALTER TABLE clinics DROP COLUMN closed_at;
ALTER TABLE clinics DROP COLUMN closes_at;
ALTER TABLE clinics DROP COLUMN status;
