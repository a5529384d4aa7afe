-- Consent: an applicant who declined SMS gets a row with status 'declined' (no phone number, no body), so ops
-- can see why nothing was sent. It is final and never published on notify.sms.v1.
ALTER TABLE sms_message DROP CONSTRAINT sms_message_status_check;
ALTER TABLE sms_message ADD CONSTRAINT sms_message_status_check CHECK (status IN ('created', 'sending', 'sent',
    'delivered', 'permanent_failure', 'temporary_failure', 'technical_failure', 'declined'));

-- Retention: when the phone number and the body were purged.
ALTER TABLE sms_message ADD COLUMN purged_at timestamptz;
CREATE INDEX sms_message_purgeable ON sms_message (created_at) WHERE phone_e164 IS NOT NULL OR body IS NOT NULL;

-- Sweeps: messages waiting for a delivery report.
CREATE INDEX sms_message_waiting ON sms_message (updated_at) WHERE status IN ('sending', 'sent');

-- Ops read API by application, and delivery reports matched by the provider's id (Zenziva takes no reference).
CREATE INDEX sms_message_application ON sms_message (application_id, created_at);
CREATE INDEX sms_message_provider_id ON sms_message (provider_message_id) WHERE provider_message_id IS NOT NULL;

-- A report naming a provider id we do not know yet (it may arrive before the send answer is recorded): kept and
-- applied when that answer is recorded. Holds no personal data.
CREATE TABLE sms_unmatched_report (
    provider_message_id text        PRIMARY KEY,
    status              text        NOT NULL,
    error_code          text,
    received_at         timestamptz NOT NULL DEFAULT now()
);
