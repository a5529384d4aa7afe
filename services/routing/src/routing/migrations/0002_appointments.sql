-- Central appointment capacity: one row per (site, agency, day) counts the slots taken against the quota.
CREATE TABLE appointment_day (
    site_id     text    NOT NULL,
    agency_code text    NOT NULL,
    day         date    NOT NULL,
    booked      integer NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (site_id, agency_code, day)
);

CREATE TABLE appointment (
    application_id uuid PRIMARY KEY,
    site_id        text        NOT NULL,
    agency_code    text        NOT NULL,
    day            date        NOT NULL,
    slot           integer     NOT NULL,
    starts_at      timestamptz NOT NULL
);
