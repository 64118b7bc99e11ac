-- +goose Up
-- Patient accounts: a clinic may let new patients sign themselves up (on by
-- default), and a patient profile is linked to at most one account of its
-- clinic (an empty patient_id is no link).
ALTER TABLE clinic_settings ADD COLUMN patient_self_signup BOOLEAN NOT NULL DEFAULT TRUE;
CREATE UNIQUE INDEX users_clinic_patient ON users (clinic_id, patient_id) WHERE patient_id <> '';

-- +goose Down
DROP INDEX users_clinic_patient;
ALTER TABLE clinic_settings DROP COLUMN patient_self_signup;
