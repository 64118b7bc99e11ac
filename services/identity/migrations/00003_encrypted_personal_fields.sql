-- +goose Up
-- Names, e-mails, phones, TOTP secrets, IP addresses and user agents are now
-- stored encrypted under each clinic's key (libs/fieldcrypt). Uniqueness of
-- an e-mail within a clinic is kept by the keyed-hash lookup column; an index
-- on the ciphertext means nothing. The per-clinic lookup key moved into
-- Vault-wrapped key rows, so clinics.lookup_key is no longer written.
DROP INDEX users_clinic_email;

-- +goose Down
CREATE UNIQUE INDEX users_clinic_email ON users (clinic_id, email);
