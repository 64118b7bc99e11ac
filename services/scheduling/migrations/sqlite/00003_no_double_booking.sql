-- +goose Up
-- SQLite: triggers refuse an appointment that overlaps another of the same
-- practitioner holding the time. SQLite runs one writer at a time (libs/store
-- opens every transaction with BEGIN IMMEDIATE), so the check and the write
-- cannot interleave with another booking.
-- +goose StatementBegin
CREATE TRIGGER appointments_no_double_booking_insert BEFORE INSERT ON appointments
WHEN NEW.status <> 'cancelled' AND EXISTS (
    SELECT 1 FROM appointments a
    WHERE a.clinic_id = NEW.clinic_id AND a.practitioner_id = NEW.practitioner_id AND a.status <> 'cancelled'
      AND a.starts_at < NEW.ends_at AND NEW.starts_at < a.ends_at)
BEGIN SELECT RAISE(ABORT, 'appointments_no_double_booking'); END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER appointments_no_double_booking_update BEFORE UPDATE OF practitioner_id, starts_at, ends_at, status ON appointments
WHEN NEW.status <> 'cancelled' AND EXISTS (
    SELECT 1 FROM appointments a
    WHERE a.id <> NEW.id AND a.clinic_id = NEW.clinic_id AND a.practitioner_id = NEW.practitioner_id AND a.status <> 'cancelled'
      AND a.starts_at < NEW.ends_at AND NEW.starts_at < a.ends_at)
BEGIN SELECT RAISE(ABORT, 'appointments_no_double_booking'); END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER appointments_no_double_booking_update;
DROP TRIGGER appointments_no_double_booking_insert;
