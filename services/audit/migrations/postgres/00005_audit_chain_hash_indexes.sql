-- +goose Up
-- PostgreSQL only. The user, patient and resource filters of the activity
-- report are equality lookups of ids, and their b-tree entries never gave
-- chain order (the report sorts by seq whichever index it uses), so hash
-- indexes serve them as well: a hash index stores a 4-byte hash code per
-- row instead of the (clinic id, id) text key, and maintaining the three
-- costs about a third of what the b-trees did on every append, the largest
-- part of chaining. The clinic condition stays in every query, applied to
-- the (few) rows of one user, patient or resource. SQLite has no hash
-- indexes and keeps 00004's b-trees.
DROP INDEX audit_chain_clinic_actor;
DROP INDEX audit_chain_clinic_patient;
DROP INDEX audit_chain_clinic_resource;
CREATE INDEX audit_chain_actor    ON audit_chain USING hash (actor_user_id) WHERE actor_user_id <> '';
CREATE INDEX audit_chain_patient  ON audit_chain USING hash (patient_id)    WHERE patient_id <> '';
CREATE INDEX audit_chain_resource ON audit_chain USING hash (resource_id)   WHERE resource_id <> '';

-- +goose Down
DROP INDEX audit_chain_actor;
DROP INDEX audit_chain_patient;
DROP INDEX audit_chain_resource;
CREATE INDEX audit_chain_clinic_actor    ON audit_chain (clinic_id, actor_user_id) WHERE actor_user_id <> '';
CREATE INDEX audit_chain_clinic_patient  ON audit_chain (clinic_id, patient_id)    WHERE patient_id <> '';
CREATE INDEX audit_chain_clinic_resource ON audit_chain (clinic_id, resource_id)   WHERE resource_id <> '';
