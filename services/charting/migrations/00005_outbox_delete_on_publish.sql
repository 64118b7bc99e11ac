-- +goose Up
-- The events relay (libs/outbox) deletes a row once the broker has
-- acknowledged it, instead of setting published_at; published rows were
-- never read again. Rows already published go now; the rest stay for the
-- relay, which reads the outbox in primary-key (id) order.
DELETE FROM charting_outbox WHERE published_at IS NOT NULL;
DROP INDEX charting_outbox_published_id;
ALTER TABLE charting_outbox DROP COLUMN published_at;

-- +goose Down
ALTER TABLE charting_outbox ADD COLUMN published_at TIMESTAMP NULL;
CREATE INDEX charting_outbox_published_id ON charting_outbox (published_at, id);
