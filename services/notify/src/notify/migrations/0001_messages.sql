CREATE TABLE sms_message (
    id                  uuid PRIMARY KEY,              -- our id, given to the provider as the reference
    event_id            uuid        NOT NULL,          -- the event that asked for it
    template            text        NOT NULL,
    template_version    integer     NOT NULL,
    application_id      uuid,
    phone_e164          text,                          -- purged after the retention period
    body                text,                          -- purged after the retention period
    segments            integer     NOT NULL,
    status              text        NOT NULL CHECK (status IN ('created', 'sending', 'sent', 'delivered',
                            'permanent_failure', 'temporary_failure', 'technical_failure')),
    provider            text,
    provider_message_id text,
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    traceparent         text,                          -- W3C trace context of the event that asked for it
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- One SMS per (event, template), whatever happens to the inbox: a replayed topic sends nothing new.
    UNIQUE (event_id, template)
);
CREATE INDEX sms_message_due ON sms_message (next_attempt_at) WHERE status = 'created';
