-- +goose Up
-- Intake and consent forms. A template is the clinic's own wording (not
-- personal data); each change makes a new version and sent forms keep the
-- version they were sent with. A form request is sent to one patient with a
-- single-use link: only the SHA-256 of its token is stored. Completing it
-- fills the answers, the typed signature and the client address — all
-- encrypted under the clinic's key — and completed_at, once: the app only
-- ever updates a row WHERE completed_at IS NULL, and never afterwards.
CREATE TABLE form_templates (
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    clinic_id  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    questions  TEXT    NOT NULL, -- JSON
    created_by TEXT    NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX form_templates_clinic ON form_templates (clinic_id, id);

CREATE TABLE form_requests (
    id               TEXT PRIMARY KEY,
    clinic_id        TEXT NOT NULL,
    patient_id       TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    sent_by          TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    completed_at     TIMESTAMP NULL,
    answers          TEXT NOT NULL, -- encrypted JSON; '' until completed
    signed_name      TEXT NOT NULL, -- encrypted
    signed_ip        TEXT NOT NULL, -- encrypted
    content_sha256   TEXT NOT NULL
);
CREATE INDEX form_requests_patient ON form_requests (clinic_id, patient_id, created_at);

-- +goose Down
DROP TABLE form_requests;
DROP TABLE form_templates;
