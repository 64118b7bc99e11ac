-- +goose Up
-- The communication log, its status history, opt-outs and templates.
--
-- messages.recipient and messages.content are sealed with fieldcrypt under
-- the clinic's key (base64 of the ciphertext, bound to the row): the
-- address, and the rendered message until it is final (then dropped).
-- id and clinic_id come first: the serializer needs them to open the rest.

-- 00001's table held no rows (nothing wrote to it); it gains the template
-- itself.
DROP TABLE message_templates;
CREATE TABLE message_templates (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    name       TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX message_templates_clinic_channel_name ON message_templates (clinic_id, channel, name);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL,
    patient_id      TEXT NOT NULL DEFAULT '',
    user_id         TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL,
    template        TEXT NOT NULL,
    triggered_by    TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status          TEXT NOT NULL,
    recipient       TEXT NOT NULL DEFAULT '',
    content         TEXT NOT NULL DEFAULT '',
    provider_id     TEXT NOT NULL DEFAULT '',
    error_code      TEXT NOT NULL DEFAULT '',
    callback_url    TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP NULL,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP NULL,
    delivered_at    TIMESTAMP NULL,
    failed_at       TIMESTAMP NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX messages_clinic_idempotency_key ON messages (clinic_id, idempotency_key);
CREATE INDEX messages_clinic_patient ON messages (clinic_id, patient_id, id);
CREATE INDEX messages_status_due ON messages (status, next_attempt_at);

CREATE TABLE message_events (
    id         TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    clinic_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL,
    at         TIMESTAMP NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, at);

CREATE TABLE opt_outs (
    clinic_id  TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    channel    TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, channel)
);

-- +goose Down
DROP TABLE opt_outs;
DROP TABLE message_events;
DROP TABLE messages;
DROP TABLE message_templates;
CREATE TABLE message_templates (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX message_templates_clinic_channel_name ON message_templates (clinic_id, channel, name);
