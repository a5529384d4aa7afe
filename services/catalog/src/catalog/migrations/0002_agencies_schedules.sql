-- The rest of the data set, so the catalogue can be rebuilt from the database alone (admin changes live here).
CREATE TABLE agency (
    code       text PRIMARY KEY,
    body       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agency_schedule (
    agency     text  NOT NULL,
    site       text  NOT NULL,
    position   integer NOT NULL,
    body       jsonb NOT NULL,
    PRIMARY KEY (agency, site, position)
);
