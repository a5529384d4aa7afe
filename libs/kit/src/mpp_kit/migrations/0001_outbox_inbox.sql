-- Plumbing tables every service has: the transactional outbox and the consumer inbox.

CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    topic           text        NOT NULL,
    key             text,
    payload         bytea,              -- NULL is a tombstone (compacted topics)
    headers         jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- includes the W3C traceparent of the writer
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease           uuid,
    leased_at       timestamptz,
    last_error      text,
    CHECK ((lease IS NULL) = (leased_at IS NULL))
);
CREATE INDEX outbox_ready ON outbox (next_attempt_at, id) WHERE lease IS NULL;

CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
