-- Asking for the phone's code again: how many times a new code was sent for the application, and when the
-- current one was (a new code replaces the old one's hash, expiry and attempts).
ALTER TABLE phone_verification
    ADD COLUMN resends integer     NOT NULL DEFAULT 0,
    ADD COLUMN sent_at timestamptz NOT NULL DEFAULT now();
