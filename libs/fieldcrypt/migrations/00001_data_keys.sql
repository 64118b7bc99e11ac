-- +goose Up
-- Wrapped data keys. purpose 'data' keys seal field values; 'lookup' keys
-- compute blind indexes. At most one active (retired_at IS NULL) key per
-- clinic and purpose: replicas racing to create one both insert with ON
-- CONFLICT DO NOTHING and then read back the single winner.
CREATE TABLE fieldcrypt_data_keys (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('data', 'lookup')),
    wrapped    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP NULL
);
CREATE UNIQUE INDEX fieldcrypt_data_keys_one_active
    ON fieldcrypt_data_keys (clinic_id, purpose) WHERE retired_at IS NULL;
CREATE INDEX fieldcrypt_data_keys_clinic ON fieldcrypt_data_keys (clinic_id);

-- +goose Down
DROP TABLE fieldcrypt_data_keys;
