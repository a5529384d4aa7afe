-- What the events after a decision need (an appointment moved, given back or missed is texted to the applicant
-- and sent to the handling site): kept from the submitted event, with the decision's reason.
ALTER TABLE routing_decision
    ADD COLUMN tracking_code        text    NOT NULL DEFAULT '',
    ADD COLUMN service_name         text    NOT NULL DEFAULT '',
    ADD COLUMN origin_site_name     text    NOT NULL DEFAULT '',
    ADD COLUMN applicant_first_name text    NOT NULL DEFAULT '',
    ADD COLUMN sealed_phone         text    NOT NULL DEFAULT '',
    ADD COLUMN sms_consent          boolean NOT NULL DEFAULT true,
    ADD COLUMN decision_reason      text;
CREATE INDEX routing_decision_decided_at ON routing_decision (decided_at);

-- An appointment is booked, given back (its seat free again) or missed (its seat stays taken). A move changes the
-- row's day and slot. `timezone`: the site's, in which the applicant is told the time. `day_ends_at`: when the agency's day ends at the site; a booked appointment not checked in
-- by then is a no-show. Rows booked before this migration end at midnight WITA of their day.
ALTER TABLE appointment
    ADD COLUMN status        text        NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled', 'missed')),
    ADD COLUMN site_name     text        NOT NULL DEFAULT '',
    ADD COLUMN timezone      text        NOT NULL DEFAULT 'Asia/Makassar',
    ADD COLUMN bring         text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN day_ends_at   timestamptz,
    ADD COLUMN checked_in_at timestamptz;
UPDATE appointment SET day_ends_at = (day + 1)::timestamp AT TIME ZONE 'Asia/Makassar';
ALTER TABLE appointment ALTER COLUMN day_ends_at SET NOT NULL;
CREATE INDEX appointment_seats ON appointment (site_id, agency_code, day, slot) WHERE status <> 'cancelled';
CREATE INDEX appointment_due ON appointment (day_ends_at) WHERE status = 'booked' AND checked_in_at IS NULL;

-- One row per effect on an appointment, so that each request (its event id) and each no-show (application and
-- day) has its effect once, whatever is replayed.
CREATE TABLE appointment_change (
    change_key         text PRIMARY KEY,
    application_id     uuid        NOT NULL,
    kind               text        NOT NULL
        CHECK (kind IN ('rescheduled', 'no_slot_to_reschedule', 'cancelled', 'missed')),
    previous_starts_at timestamptz,
    starts_at          timestamptz,
    changed_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_change_application ON appointment_change (application_id);
