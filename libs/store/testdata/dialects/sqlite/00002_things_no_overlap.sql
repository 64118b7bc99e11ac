-- +goose Up
-- SQLite only: the same guarantee as a trigger.
-- +goose StatementBegin
CREATE TRIGGER things_no_overlap BEFORE INSERT ON things
WHEN EXISTS (SELECT 1 FROM things WHERE starts_at < NEW.ends_at AND NEW.starts_at < ends_at)
BEGIN SELECT RAISE(ABORT, 'things overlap'); END;
-- +goose StatementEnd
-- +goose Down
DROP TRIGGER things_no_overlap;
