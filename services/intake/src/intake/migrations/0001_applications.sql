CREATE TABLE application (
    id                   uuid PRIMARY KEY,
    tracking_code        text        NOT NULL UNIQUE,
    site_id              text        NOT NULL,
    service_code         text        NOT NULL,
    channel              text        NOT NULL,
    status               text        NOT NULL,
    applicant_name       text        NOT NULL,
    nik_sealed           text        NOT NULL,  -- AES-GCM, never stored or shown in full
    nik_last4            text        NOT NULL,
    phone_sealed         text        NOT NULL,
    phone_last4          text        NOT NULL,  -- the applicant's second factor for public tracking
    queue_ticket         text,
    submitted_at         timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX application_site_status ON application (site_id, status);

-- One counter per site and day: the ticket numbers an operator calls out.
CREATE TABLE queue_counter (
    site_id     text NOT NULL,
    day         date NOT NULL,
    last_number integer NOT NULL,
    PRIMARY KEY (site_id, day)
);

-- The first answer to a submit, replayed for a retry with the same Idempotency-Key.
CREATE TABLE idempotency_key (
    site_id      text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status_code  integer     NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, key)
);
