-- Abuse and personal data: one-time codes of online applications, rate limits shared by the replicas, locks of
-- tracking codes asked with wrong digits, and when an application's personal fields were purged or erased.

-- One code per online application; only its HMAC is stored.
CREATE TABLE phone_verification (
    application_id uuid        PRIMARY KEY REFERENCES application(id),
    code_hash      text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    attempts       integer     NOT NULL DEFAULT 0,
    verified_at    timestamptz
);

-- Fixed-window counters: hits of one bucket (an endpoint and the HMAC of a client address) in one window.
CREATE TABLE rate_limit_window (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_window_start ON rate_limit_window (window_start);

-- Wrong phone digits per tracking code (its HMAC: known or not, every code is counted alike).
CREATE TABLE tracking_failure (
    code_hash    text        PRIMARY KEY,
    failures     integer     NOT NULL,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE application ADD COLUMN personal_data_purged_at timestamptz;
CREATE INDEX application_purgeable ON application (updated_at) WHERE personal_data_purged_at IS NULL;
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);
