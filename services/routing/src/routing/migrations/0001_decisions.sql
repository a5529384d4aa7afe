CREATE TABLE routing_decision (
    application_id   uuid PRIMARY KEY,
    origin_site_id   text        NOT NULL,
    service_code     text        NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('local', 'central', 'refused')),
    handling_site_id text,
    reason           text,
    decided_at       timestamptz NOT NULL DEFAULT now()
);
