-- +goose Up
-- Chart templates define the sections a practitioner fills in; patients and
-- chart entries (encrypted per clinic) arrive in later migrations.
CREATE TABLE chart_templates (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX chart_templates_clinic_name_version ON chart_templates (clinic_id, name, version);

-- +goose Down
DROP TABLE chart_templates;
