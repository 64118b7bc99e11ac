-- +goose Up
CREATE TABLE widgets (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX widgets_clinic_name ON widgets (clinic_id, name);

-- +goose Down
DROP TABLE widgets;
