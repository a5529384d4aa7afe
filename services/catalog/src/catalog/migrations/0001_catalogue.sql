-- The catalogue's current state. `body` is the full validated standar pelayanan as JSON.
CREATE TABLE service_type (
    code       text PRIMARY KEY,
    agency     text        NOT NULL,
    version    integer     NOT NULL,
    body       jsonb       NOT NULL,
    sites      text[]      NOT NULL,
    retired_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE site (
    slug       text PRIMARY KEY,
    kind       text        NOT NULL,
    body       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
