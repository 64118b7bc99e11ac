-- +goose Up
-- The per-clinic hash chain, its signed digests and the region's digest
-- signing key. See README.md for the append-only protection on each engine.
CREATE TABLE audit_chain (
    clinic_id     TEXT      NOT NULL,
    seq           BIGINT    NOT NULL,
    event_id      TEXT      NOT NULL UNIQUE,
    occurred_at   TIMESTAMP NOT NULL,
    actor_user_id TEXT      NOT NULL,
    action        TEXT      NOT NULL,
    resource_type TEXT      NOT NULL,
    patient_id    TEXT      NOT NULL,
    outcome       TEXT      NOT NULL,
    payload       TEXT      NOT NULL, -- the event's canonical JSON, as hashed
    prev_hash     TEXT      NOT NULL,
    hash          TEXT      NOT NULL,
    received_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (clinic_id, seq)
);
CREATE INDEX audit_chain_clinic_time   ON audit_chain (clinic_id, occurred_at);
CREATE INDEX audit_chain_clinic_actor  ON audit_chain (clinic_id, actor_user_id, occurred_at);
CREATE INDEX audit_chain_clinic_action ON audit_chain (clinic_id, action, occurred_at);
CREATE INDEX audit_chain_clinic_patient ON audit_chain (clinic_id, patient_id, occurred_at);

CREATE TABLE audit_digests (
    clinic_id        TEXT      NOT NULL,
    seq              BIGINT    NOT NULL,
    head_seq         BIGINT    NOT NULL,
    head_hash        TEXT      NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    prev_digest_hash TEXT      NOT NULL,
    digest_hash      TEXT      NOT NULL,
    signature        TEXT      NOT NULL, -- base64 Ed25519
    key_id           TEXT      NOT NULL,
    PRIMARY KEY (clinic_id, seq)
);

CREATE TABLE audit_signing_keys (
    id          TEXT PRIMARY KEY,
    private_key TEXT      NOT NULL, -- base64 Ed25519 seed
    created_at  TIMESTAMP NOT NULL
);

-- SQLite-only statements follow. Each block opens with "/* /*": SQLite's
-- block comments do not nest, so SQLite's comment ends at the first "*/" and
-- it runs the trigger; PostgreSQL's comments nest, so it reads the whole
-- block as one comment and runs nothing. The closing "/* */ -- */" ends the
-- PostgreSQL comment while SQLite sees a comment and a line comment.
-- PostgreSQL is protected by privileges instead (README.md).

-- +goose StatementBegin
/* /* SQLite only */
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
/* */ -- */
-- +goose StatementEnd

-- +goose StatementBegin
/* /* SQLite only */
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
/* */ -- */
-- +goose StatementEnd

-- +goose StatementBegin
/* /* SQLite only */
CREATE TRIGGER audit_digests_no_update BEFORE UPDATE ON audit_digests
BEGIN SELECT RAISE(ABORT, 'audit_digests is append-only'); END;
/* */ -- */
-- +goose StatementEnd

-- +goose StatementBegin
/* /* SQLite only */
CREATE TRIGGER audit_digests_no_delete BEFORE DELETE ON audit_digests
BEGIN SELECT RAISE(ABORT, 'audit_digests is append-only'); END;
/* */ -- */
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_signing_keys;
DROP TABLE audit_digests;
DROP TABLE audit_chain;
