"""Rules of intake that do not touch the database."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Literal

from mpp_contracts.intake import ApplicationChannel, ApplicationStatus

# Crockford's base32 without I, L, O, U: nothing an applicant can misread on a basic phone's screen.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHAR = "[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]"  # the alphabet above, in either case (codes are upper-cased)
TRACKING_CODE_PATTERN = f"^{_CODE_CHAR}{{4}}-{_CODE_CHAR}{{4}}$"

# A NIK as the API takes it: 16 ASCII digits, spaces anywhere ignored ("6402 0212 0385 0002").
NIK_PATTERN = r"^ *(?:[0-9] *){16}$"
_ASCII_DIGITS = frozenset("0123456789")


def new_tracking_code() -> str:
    """Eight random characters in two groups (40 bits), e.g. `7F3K-9Q2M`."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def validate_nik(value: str) -> str:
    """A NIK is 16 digits: province, regency, district (6), birth date DDMMYY (+40 on the day for women), serial.

    Source: Permendagri 72/2019 on the NIK structure; only the shape is checked, not the civil registry.
    Only ASCII 0-9: `str.isdigit()` also takes full-width and Arabic-Indic digits, which were stored as such.
    """
    nik = value.replace(" ", "")
    if len(nik) != 16 or not set(nik) <= _ASCII_DIGITS:
        raise ValueError("must be exactly 16 digits (0-9)")
    if not 11 <= int(nik[:2]) <= 96:
        raise ValueError("does not start with a valid province code")
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    try:
        date(2000 + year, month, day)
    except ValueError:
        raise ValueError("does not contain a valid birth date") from None
    if nik[12:] == "0000":
        raise ValueError("has an invalid serial number")
    return nik


# The statuses an operator may set: every ApplicationStatus except "submitted", which only a submit gives.
# A Literal of its own (not the contract's) so that the API refuses "submitted" as a value, with the list of
# the others; it stays a subset of ApplicationStatus because the event's `status` field type-checks against it.
OperatorStatus = Literal["in_progress", "ready_for_pickup", "completed", "rejected"]

# Which status an operator may move an application to from each status. Final ones lead nowhere.
TRANSITIONS: dict[ApplicationStatus, frozenset[OperatorStatus]] = {
    "submitted": frozenset({"in_progress", "ready_for_pickup", "rejected"}),
    "in_progress": frozenset({"ready_for_pickup", "rejected"}),
    "ready_for_pickup": frozenset({"completed"}),
    "completed": frozenset(),
    "rejected": frozenset(),
}


def queue_ticket(number: int, channel: ApplicationChannel) -> str | None:
    """Counter tickets the operator calls out ("A-007"); online applications take no place in the queue."""
    return None if channel == "online" else f"A-{number:03d}"


def first_name(full_name: str) -> str:
    return full_name.split()[0][:20] if full_name.split() else ""
