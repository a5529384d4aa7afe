ALTER TABLE application ADD COLUMN sms_consent boolean NOT NULL DEFAULT true;
ALTER TABLE application ADD COLUMN service_name text NOT NULL DEFAULT '';

-- Who changed what, when: the operator's token name, never the token.
CREATE TABLE application_history (
    id             bigserial PRIMARY KEY,
    application_id uuid        NOT NULL REFERENCES application(id),
    status         text        NOT NULL,
    note           text,
    operator       text        NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now()
);
