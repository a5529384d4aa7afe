"""Indonesian mobile numbers: normalise what people type into E.164, refuse what cannot receive SMS.

Shared by intake (validate the applicant's number at submit) and notify (the address an SMS goes to), so both
agree on one canonical form: ``+62`` followed by the national significant number (NSN).

Numbering facts (ITU-T E.164 assignment for Indonesia, as encoded in libphonenumber's ``region_ID`` metadata,
python-phonenumbers ``data/region_ID.py``):

- country code 62, trunk prefix 0;
- mobile NSN ``8[1-35-9]`` then 7 to 10 more digits: 9 to 12 digits, written nationally as ``08...``
  with 10 to 13 digits;
- ``0800`` is toll-free, ``0804`` shared-cost and ``0809`` premium rate: none of them can take an SMS;
- every other NSN (first digit 1-7 or 9) is a fixed line behind an area code (``0541`` Samarinda, ``021``
  Jakarta, ``0622`` Pematangsiantar ...).

The ``62`` pitfall. A string of digits that starts with ``62`` but has no ``+`` is ambiguous: it may be
the country code, or a national fixed-line number typed without its trunk ``0`` (area codes ``062x`` and
``065x`` exist in North Sumatra and Aceh). libphonenumber only strips a leading country code when the whole
string is not already a valid national number, so ``62`` followed by nine digits parses as a landline there.
We apply that rule on purpose instead of guessing: ``62812345678`` is refused as a possible landline and the
operator is told to write ``+62812345678`` or ``0812345678``; with ten or more digits after ``62`` the
national reading is too long for a fixed line, so ``628123456789`` is taken as ``+62 812-3456-789``. Written
with a ``+``, the country code is never in doubt.

We do not depend on the ``phonenumbers`` package: the rules above are all we need, and keeping them here makes
the refusals explainable in plain words for the counter operator.
"""

from __future__ import annotations

import re

__all__ = [
    "InvalidPhoneNumber",
    "last_digits",
    "mask_msisdn",
    "normalize_msisdn",
    "to_national",
]

COUNTRY_CODE = "62"
_TRUNK_PREFIX = "0"

# Mobile NSN, region_ID metadata: 8[1-35-9]\d{7,10} (9 to 12 digits in total).
_MOBILE_NSN = re.compile(r"8[1-35-9]\d{7,10}")
_SEPARATORS = re.compile(r"[\s\-.()/\u00a0]")
_ALLOWED = re.compile(r"\+?[0-9]+")  # ASCII only: \\d also takes full-width and Arabic-Indic digits


class InvalidPhoneNumber(ValueError):
    """The number cannot receive our SMS.

    ``reason`` is a plain-English sentence fit to show a counter operator; ``code`` is a stable machine
    value for APIs and metrics (``empty``, ``bad_characters``, ``foreign``, ``too_short``, ``too_long``,
    ``landline``, ``ambiguous_landline``, ``toll_free``, ``shared_cost``, ``premium``, ``short_code``,
    ``not_mobile``). The rejected input is never part of the message, so it is safe to log.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def normalize_msisdn(raw: str) -> str:
    """Return the E.164 form (``+628...``) of an Indonesian mobile number, or raise ``InvalidPhoneNumber``.

    Accepted forms: ``+62 812-3456-7890``, ``62 812 3456 7890`` (ten or more digits after 62),
    ``0812.3456.7890``, ``(0812) 3456 7890`` and a bare ``812 3456 7890``.
    """
    text = _SEPARATORS.sub("", raw or "")
    if not text:
        raise InvalidPhoneNumber("empty", "no phone number was given")
    if not _ALLOWED.fullmatch(text):
        raise InvalidPhoneNumber(
            "bad_characters",
            "a phone number may only contain digits, spaces, dashes, dots, parentheses and a leading +",
        )

    if text.startswith("+"):
        digits = text[1:]
        if not digits.startswith(COUNTRY_CODE):
            raise InvalidPhoneNumber(
                "foreign", "only Indonesian (+62) numbers can receive SMS from this service"
            )
        nsn = digits[len(COUNTRY_CODE) :]
        # "+62 (0)812...": people often keep the trunk 0 after the country code; it is never part of an NSN.
        if nsn.startswith(_TRUNK_PREFIX):
            nsn = nsn[1:]
    elif text.startswith(_TRUNK_PREFIX):
        if text.startswith("00"):
            raise InvalidPhoneNumber(
                "foreign", "write the number in the national form 08... or as +62..., without an 00 prefix"
            )
        nsn = text[1:]
    elif text.startswith(COUNTRY_CODE):
        rest = text[len(COUNTRY_CODE) :]
        if len(rest) <= 9:
            # See the module docstring: read nationally, "62" + up to nine digits is a fixed-line number in
            # area code 062x, which is how libphonenumber parses it; only a leading + makes it a country code.
            raise InvalidPhoneNumber(
                "ambiguous_landline",
                "this looks like a landline number (62 followed by nine digits or fewer); "
                "if it is a mobile number, write it as +62... or 08...",
            )
        nsn = rest[1:] if rest.startswith(_TRUNK_PREFIX) else rest  # "62 0812...", as with "+62 (0)812..."
    elif text.startswith("8"):
        nsn = text
    elif len(text) <= 7:
        # 112, 3636, 14045, 1500xxx: emergency, operator and nationwide service numbers.
        raise InvalidPhoneNumber("short_code", "short codes and service numbers cannot receive SMS")
    else:
        # Digits 1-7 or 9 without a trunk prefix: an area code without its 0 (e.g. 541 for Samarinda).
        raise InvalidPhoneNumber("landline", "landline numbers cannot receive SMS")

    return "+" + COUNTRY_CODE + _check_nsn(nsn)


def _check_nsn(nsn: str) -> str:
    if not nsn:
        raise InvalidPhoneNumber("too_short", "the number is too short for an Indonesian mobile number")
    first = nsn[0]
    if first == "8":
        if nsn.startswith("800"):
            raise InvalidPhoneNumber("toll_free", "toll-free (0800) numbers cannot receive SMS")
        if nsn.startswith("804"):
            raise InvalidPhoneNumber("shared_cost", "shared-cost (0804) numbers cannot receive SMS")
        if nsn.startswith("809"):
            raise InvalidPhoneNumber("premium", "premium-rate (0809) numbers cannot receive SMS")
        if nsn[1:2] in ("0", "4"):
            raise InvalidPhoneNumber("not_mobile", "080x and 084x are not Indonesian mobile prefixes")
        if len(nsn) < 9:
            raise InvalidPhoneNumber(
                "too_short", "Indonesian mobile numbers have 10 to 13 digits when written as 08..."
            )
        if len(nsn) > 12:
            raise InvalidPhoneNumber(
                "too_long", "Indonesian mobile numbers have 10 to 13 digits when written as 08..."
            )
        if not _MOBILE_NSN.fullmatch(nsn):  # pragma: no cover - the checks above cover the pattern
            raise InvalidPhoneNumber("not_mobile", "this is not an Indonesian mobile number")
        return nsn
    if first == "0":
        raise InvalidPhoneNumber("not_mobile", "this is not an Indonesian mobile number")
    if len(nsn) <= 6:
        raise InvalidPhoneNumber("short_code", "short codes and service numbers cannot receive SMS")
    raise InvalidPhoneNumber("landline", "landline numbers cannot receive SMS")


def to_national(e164: str) -> str:
    """``+6281234567890`` -> ``081234567890``: the form Indonesian aggregators and people expect."""
    if not e164.startswith("+" + COUNTRY_CODE):
        raise ValueError("expected an Indonesian E.164 number")
    return _TRUNK_PREFIX + e164[1 + len(COUNTRY_CODE) :]


def last_digits(e164: str, n: int = 4) -> str:
    """The last ``n`` digits: the second factor applicants use with their tracking code."""
    if n <= 0:
        raise ValueError("n must be positive")
    digits = "".join(ch for ch in e164 if ch.isdigit())
    return digits[-n:]


def mask_msisdn(e164: str, visible: int = 3) -> str:
    """A log-safe form: ``+6281234567890`` -> ``+62*******890``.

    Keeps the country code and the last ``visible`` digits (3 by default). Keep ``visible`` below the number
    of digits used as the tracking second factor (``last_digits``, 4), so logs never hold the full factor.
    """
    digits = "".join(ch for ch in e164 if ch.isdigit())
    if not digits:
        return "***"
    visible = max(0, min(visible, len(digits) - 1))
    prefix = "+" + COUNTRY_CODE if digits.startswith(COUNTRY_CODE) and e164.startswith("+") else ""
    body = digits[len(COUNTRY_CODE) :] if prefix else digits
    hidden = max(len(body) - visible, 1)
    return prefix + "*" * hidden + (body[-visible:] if visible else "")
