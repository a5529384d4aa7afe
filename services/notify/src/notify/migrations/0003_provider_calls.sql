-- What a `sending` message's provider call may have done (dispatch.py, "Never twice").
-- call_started_at: a provider call of the current claim may have started (set with the claim, right before the
--   call; cleared only by the sender itself when the provider certainly did not take the message). A `sending`
--   message without it was claimed and never called: safe to send again.
-- confirmed_at: the provider said it has the message (its answer, a delivery report, or a lookup).
-- `sending` with call_started_at and no confirmed_at is unconfirmed: the provider may or may not have it.
ALTER TABLE sms_message ADD COLUMN call_started_at timestamptz;
ALTER TABLE sms_message ADD COLUMN confirmed_at timestamptz;

-- Messages already `sending` were claimed by code that did not record its calls: treat them as called
-- (possibly at the provider), and as confirmed when the provider's id was recorded.
UPDATE sms_message SET call_started_at = updated_at WHERE status = 'sending';
UPDATE sms_message SET confirmed_at = updated_at WHERE status = 'sending' AND provider_message_id IS NOT NULL;

CREATE INDEX sms_message_unconfirmed ON sms_message (call_started_at)
    WHERE status = 'sending' AND confirmed_at IS NULL;
