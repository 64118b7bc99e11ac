-- +goose Up
-- The relay now deletes a row once the broker has acknowledged it, instead
-- of setting published_at: that UPDATE wrote a new row version and two index
-- entries per event and was the largest part of relaying, and published rows
-- were never read again. Rows already published go now; the rest stay for
-- the relay, which reads the outbox in primary-key (id) order.
DELETE FROM audit_outbox WHERE published_at IS NOT NULL;
DROP INDEX audit_outbox_published_id;
ALTER TABLE audit_outbox DROP COLUMN published_at;

-- +goose Down
ALTER TABLE audit_outbox ADD COLUMN published_at TIMESTAMP NULL;
CREATE INDEX audit_outbox_published_id ON audit_outbox (published_at, id);
