-- +goose Up
-- Per-clinic message templates; the communication log and opt-outs arrive
-- in later migrations.
CREATE TABLE message_templates (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX message_templates_clinic_channel_name ON message_templates (clinic_id, channel, name);

-- +goose Down
DROP TABLE message_templates;
