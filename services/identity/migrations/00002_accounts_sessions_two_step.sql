-- +goose Up
-- Accounts: grants per user, status, a keyed-hash lookup column for e-mail
-- (sign-in never searches the e-mail itself), 2-step settings.
ALTER TABLE users ADD COLUMN email_lookup TEXT;
ALTER TABLE users ADD COLUMN grants TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN updated_at TIMESTAMP;
CREATE UNIQUE INDEX users_clinic_email_lookup ON users (clinic_id, email_lookup);

-- Each clinic's key for lookup hashes (to be wrapped by Vault with the
-- clinic's key when per-clinic keys arrive).
ALTER TABLE clinics ADD COLUMN lookup_key TEXT NOT NULL DEFAULT '';

CREATE TABLE clinic_settings (
    clinic_id            TEXT PRIMARY KEY REFERENCES clinics (id) ON DELETE CASCADE,
    idle_timeout_minutes INTEGER NOT NULL,
    session_max_hours    INTEGER NOT NULL,
    require_two_step     BOOLEAN NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);

-- The region's token signing keys (Ed25519). The newest unretired key signs;
-- every unretired key is published in the JWKS.
CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    private_key TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP
);

-- Login history: every attempt, for the owner's review.
CREATE TABLE login_attempts (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    method      TEXT NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX login_attempts_clinic_time ON login_attempts (clinic_id, occurred_at, id);

-- A sign-in waiting for its second step.
CREATE TABLE two_step_challenges (
    id               TEXT PRIMARY KEY,
    clinic_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    methods          TEXT NOT NULL,
    sms_code_hash    TEXT NOT NULL DEFAULT '',
    webauthn_session TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    ip               TEXT NOT NULL DEFAULT '',
    user_agent       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    completed_at     TIMESTAMP
);

CREATE TABLE recovery_codes (
    user_id  TEXT NOT NULL,
    idx      INTEGER NOT NULL,
    hash     TEXT NOT NULL,
    used_at  TIMESTAMP,
    PRIMARY KEY (user_id, idx)
);

CREATE TABLE webauthn_credentials (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- Single-use tokens (stored hashed): password resets and invitations.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE account_tokens;
DROP TABLE webauthn_credentials;
DROP TABLE recovery_codes;
DROP TABLE two_step_challenges;
DROP TABLE login_attempts;
DROP TABLE signing_keys;
DROP TABLE clinic_settings;
DROP INDEX users_clinic_email_lookup;
