-- +goose Up
-- Merging a duplicate profile into the one to keep makes the duplicate a
-- tombstone pointing at the kept profile. Nothing signed moves: chart
-- entries and forms keep the patient id they were sealed with, and are
-- read under the kept profile through these pointers.
ALTER TABLE patients ADD COLUMN merged_into TEXT NULL;
ALTER TABLE patients ADD COLUMN merged_at TIMESTAMP NULL;
CREATE INDEX patients_clinic_merged_into ON patients (clinic_id, merged_into);

-- +goose Down
DROP INDEX patients_clinic_merged_into;
ALTER TABLE patients DROP COLUMN merged_at;
ALTER TABLE patients DROP COLUMN merged_into;
