"""Provider status and error codes -> our SMS statuses, as tables.

Our statuses (``mpp_contracts.notify.SmsStatus``; GOV.UK Notify's set, notifications-api
``app/constants.py``):

- ``created``: stored, not yet handed to a provider;
- ``sending``: the provider accepted it and a delivery report is expected;
- ``sent``: the provider accepted it and no delivery report will come (Zenziva has no DLR webhook);
- ``delivered``: the handset got it (final);
- ``permanent_failure``: the number or the content is bad; retrying will not help (final);
- ``temporary_failure``: the handset or network could not take it now (final for this message; the DLR
  said so, a new message could be tried later);
- ``technical_failure``: our side or the provider's is broken (credentials, balance, configuration,
  retries exhausted); the recipient is not at fault.

A final state is never overwritten by a later report (GOV.UK Notify, ``update_notification_status_by_id``).
"""

from __future__ import annotations

from typing import Final

from mpp_contracts.notify import SmsStatus

__all__ = [
    "REPORT_STATUS",
    "TWILIO_ERROR_CODES",
    "TWILIO_MESSAGE_STATUS",
    "ZENZIVA_ERROR_TEXTS",
    "map_report_status",
    "map_twilio_error",
    "map_twilio_status",
    "map_zenziva_error",
]

# Twilio Message resource ``status`` values, as returned on create and in StatusCallback requests
# (twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks). ``undelivered`` and
# ``failed`` are refined by the error code when there is one (``map_twilio_status``).
TWILIO_MESSAGE_STATUS: Final[dict[str, SmsStatus]] = {
    "accepted": "sending",
    "scheduled": "sending",
    "queued": "sending",
    "sending": "sending",
    "sent": "sending",  # handed to the carrier; a DLR normally follows for Indonesian routes
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "temporary_failure",
    "failed": "technical_failure",
    "canceled": "technical_failure",
}

# Twilio error codes (twilio.com/docs/api/errors/<code>) -> (our status, short English reason).
TWILIO_ERROR_CODES: Final[dict[int, tuple[SmsStatus, str]]] = {
    # REST API, at create time
    20003: ("technical_failure", "authentication failed (check the account SID and auth token)"),
    20429: ("temporary_failure", "too many concurrent requests"),
    21211: ("permanent_failure", "invalid 'To' phone number"),
    21408: ("technical_failure", "sending to this region is not enabled on the account"),
    21602: ("technical_failure", "message body is required"),
    21603: ("technical_failure", "'From' or MessagingServiceSid is required"),
    21604: ("technical_failure", "'To' phone number is required"),
    21606: ("technical_failure", "the 'From' number is not a valid sender for this account"),
    21610: ("permanent_failure", "the recipient has opted out (STOP)"),
    21612: ("permanent_failure", "the 'To' number is not reachable by SMS"),
    21614: ("permanent_failure", "'To' is not a mobile number"),
    21617: ("permanent_failure", "the body exceeds the 1600 character limit"),
    21635: ("permanent_failure", "'To' is a landline"),
    # Carrier and delivery (StatusCallback ErrorCode)
    30001: ("temporary_failure", "queue overflow"),
    30002: ("technical_failure", "account suspended"),
    30003: ("temporary_failure", "unreachable destination handset"),
    30004: ("permanent_failure", "message blocked"),
    30005: ("permanent_failure", "unknown destination handset"),
    30006: ("permanent_failure", "landline or unreachable carrier"),
    30007: ("permanent_failure", "carrier filtering"),
    30008: ("temporary_failure", "unknown error"),
    30009: ("temporary_failure", "missing segment"),
    30010: ("technical_failure", "message price exceeds the maximum price"),
}


def map_twilio_error(code: int | None, http_status: int | None = None) -> tuple[SmsStatus, str]:
    """Status for a Twilio error code; unknown codes are judged by the HTTP status (401/403: ours, else the
    request was refused for good) and by the code range (300xx are carrier errors, usually transient)."""
    if code is not None and code in TWILIO_ERROR_CODES:
        return TWILIO_ERROR_CODES[code]
    if http_status in (401, 403):
        return "technical_failure", "the provider refused our credentials"
    if code is not None and 30000 <= code < 31000:
        return "temporary_failure", "carrier error"
    return "permanent_failure", "the provider refused the message"


def map_twilio_status(status: str, error_code: int | None = None) -> SmsStatus:
    """Our status for a Twilio message status (with its ErrorCode when the message failed)."""
    ours = TWILIO_MESSAGE_STATUS.get(status.lower(), "technical_failure")
    if ours in ("temporary_failure", "technical_failure") and error_code is not None:
        return map_twilio_error(error_code)[0]
    return ours


# Zenziva answers ``status: "0"`` with a free-text ``text``; its legacy API listed the same causes with codes
# 1 (invalid number), 5 (userkey/passkey), 6 (content rejected), 89 (repeated sends to one number) and 99
# (credit exhausted) (zenziva.id/dokumentasi via public clients, e.g. ziswapp/zenziva-sms). Matched by
# lower-case keyword, first match wins.
ZENZIVA_ERROR_TEXTS: Final[tuple[tuple[tuple[str, ...], str, SmsStatus], ...]] = (
    (("userkey", "passkey"), "auth", "technical_failure"),
    (
        ("saldo", "credit", "kredit", "balance", "masa aktif", "expired"),
        "insufficient_balance",
        "technical_failure",
    ),
    # before "nomor": "Pengiriman SMS berulang-ulang ke satu nomor dalam satu waktu" is throttling
    (("berulang", "repeated", "limit"), "throttled", "temporary_failure"),
    (("konten", "content", "rejected"), "content_rejected", "permanent_failure"),
    (("nomor", "number", "tujuan"), "invalid_number", "permanent_failure"),
)


def map_zenziva_error(text: str) -> tuple[str, SmsStatus]:
    """(our error code, our status) for Zenziva's error text; unknown texts are temporary (retry or fail
    over)."""
    lowered = text.lower()
    for keywords, code, status in ZENZIVA_ERROR_TEXTS:
        if any(word in lowered for word in keywords):
            return code, status
    return "unknown", "temporary_failure"


# Our generic delivery-report webhook (``{"reports": [{"reference", "provider_message_id", "status",
# "error_code"}]}``), spoken by the local sandbox provider and by any relay we put in front of a provider.
REPORT_STATUS: Final[dict[str, SmsStatus]] = {
    "accepted": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "temporary_failure",
    "expired": "temporary_failure",
    "failed": "permanent_failure",
    "rejected": "permanent_failure",
}


def map_report_status(status: str) -> SmsStatus:
    """Our status for a status in our generic delivery report; unknown values are technical failures."""
    return REPORT_STATUS.get(status.lower(), "technical_failure")
