-- The site's working day: arrivals forwarded from other sites, tickets per agency counter, the requirements
-- checklist, appointments, and a history that says who moved what from which status.

-- A forwarded application at the central site has no NIK (it never leaves the origin's intake).
ALTER TABLE application ALTER COLUMN nik_sealed DROP NOT NULL;
ALTER TABLE application ALTER COLUMN nik_last4 DROP NOT NULL;
ALTER TABLE application
    ADD COLUMN origin_site_id   text,                       -- at the handling site: where it was submitted
    ADD COLUMN origin_site_name text,
    ADD COLUMN agency_code      text  NOT NULL DEFAULT '',
    ADD COLUMN ticket_day       date,                       -- the site's day the queue ticket belongs to
    ADD COLUMN ticketed_at      timestamptz,                -- queue order
    ADD COLUMN appointment      jsonb,                      -- {site_id, site_name, starts_at, bring}
    ADD COLUMN appointment_day  date,                       -- the appointment's day at the handling site
    ADD COLUMN checklist        jsonb NOT NULL DEFAULT '[]', -- [{requirement, provided, document: {id, sha256}}]
    ADD COLUMN missing          text[] NOT NULL DEFAULT '{}'; -- mandatory requirements not provided at submit

-- A ticket is called out once per site and day.
CREATE UNIQUE INDEX application_ticket ON application (site_id, ticket_day, queue_ticket)
    WHERE queue_ticket IS NOT NULL;
CREATE INDEX application_queue ON application (site_id, ticket_day, ticketed_at);
CREATE INDEX application_arrivals ON application (site_id, appointment_day, agency_code);

ALTER TABLE application_history ADD COLUMN previous_status text;

-- One counter per site, day and agency counter prefix (DUK, IMI...), in the site's own time zone.
CREATE TABLE queue_ticket_counter (
    site_id     text    NOT NULL,
    day         date    NOT NULL,
    prefix      text    NOT NULL,
    last_number integer NOT NULL,
    PRIMARY KEY (site_id, day, prefix)
);
DROP TABLE queue_counter;
