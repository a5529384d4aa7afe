-- The daily cap per phone number: a message over it is recorded `capped` (final, never sent).
ALTER TABLE sms_message DROP CONSTRAINT sms_message_status_check;
ALTER TABLE sms_message ADD CONSTRAINT sms_message_status_check CHECK (status IN ('created', 'sending', 'sent',
    'delivered', 'permanent_failure', 'temporary_failure', 'technical_failure', 'declined', 'capped'));

-- What counts against the cap: the messages of one number in the last 24 hours.
CREATE INDEX sms_message_phone_day ON sms_message (phone_e164, created_at) WHERE phone_e164 IS NOT NULL;
