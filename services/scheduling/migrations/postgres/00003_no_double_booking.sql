-- +goose Up
-- PostgreSQL: an exclusion constraint. btree_gist lets GiST compare the
-- text ids with =; creating the extension needs a role allowed to (in
-- production the database owner creates it once; see README).
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE appointments ADD CONSTRAINT appointments_no_double_booking
    EXCLUDE USING gist (clinic_id WITH =, practitioner_id WITH =, tsrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status <> 'cancelled');

-- +goose Down
ALTER TABLE appointments DROP CONSTRAINT appointments_no_double_booking;
