"""GSM 03.38 (3GPP TS 23.038 §6.2.1) character set: downgrade text to it and count SMS segments.

Why GSM-7 only: Indonesian networks do not officially support Unicode SMS and concatenation is not guaranteed
(Vonage's Indonesia country notes), and a UCS-2 message holds 70 characters instead of 160. So every body is
downgraded with ``sanitize`` before it is counted and sent; ``count_segments`` still handles UCS-2 so that a
caller can see what an unsanitised text would cost.

Segment sizes (3GPP TS 23.040 §9.2.3.24.1: a 140-octet user data field, minus a 6-octet concatenation header):
GSM-7 holds 160 septets in one SMS and 153 per part of a concatenated SMS; UCS-2 holds 70 UTF-16 code units,
67 per part. Extension-table characters (TS 23.038 §6.2.1.1) take two septets: ESC plus the character. The
same rules and boundary values are used by GOV.UK Notify (alphagov/notifications-utils ``template.py``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "SegmentCount",
    "count_segments",
    "is_gsm7",
    "sanitize",
]

# TS 23.038 §6.2.1 default alphabet in code order 0x00-0x7F, without 0x1B (the escape to the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# TS 23.038 §6.2.1.1 extension table (each costs two septets): form feed and ^ { } \ [ ~ ] | €.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

# Characters we replace on purpose (the downgrade GOV.UK Notify applies in notifications-utils
# ``sanitise_text.py``; re-implemented here). Empty string means: remove.
_REPLACEMENTS: dict[str, str] = {
    # quotes and primes
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "`": "'",
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    # dashes and hyphens
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2022": "-",  # bullet
    "\u2026": "...",  # horizontal ellipsis
    # spaces: tab and every Unicode space separator become a plain space
    "\t": " ",
    "\u00a0": " ",  # no-break space
    "\u2007": " ",  # figure space
    "\u202f": " ",  # narrow no-break space
    # invisible characters are removed
    "\u00ad": "",  # soft hyphen
    "\u200b": "",  # zero width space
    "\u200c": "",  # zero width non-joiner
    "\u200d": "",  # zero width joiner
    "\u2060": "",  # word joiner
    "\ufeff": "",  # byte order mark / zero width no-break space
    "\ufe0e": "",  # variation selector-15 (text presentation)
    "\ufe0f": "",  # variation selector-16 (emoji presentation)
}

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How a text travels: ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Encoding
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _downgrade_char(ch: str) -> str:
    if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    category = unicodedata.category(ch)
    if category == "Zs":  # any other space separator (en space, thin space, ideographic space...)
        return " "
    if category in ("Mn", "Me", "Cf"):  # a stray combining mark or an invisible format character
        return ""
    # Compatibility decomposition: "á" -> "a" + U+0301, "ﬁ" -> "fi", fullwidth "Ａ" -> "A". Keep the base
    # characters when they are all GSM-7 once combining marks are dropped.
    decomposed = "".join(
        part for part in unicodedata.normalize("NFKD", ch) if unicodedata.category(part) not in ("Mn", "Me")
    )
    if decomposed and decomposed != ch and is_gsm7(decomposed):
        return decomposed
    return "?"


def sanitize(text: str) -> str:
    """Downgrade ``text`` to GSM-7: every character of the result is in the default alphabet or extension.

    Smart quotes become straight ones, dashes a hyphen-minus, the ellipsis three dots, other spaces a plain
    space; accented letters missing from GSM-7 lose their accent (NFKD), while the accented letters GSM-7 has
    (é, è, ü, à...) are kept; zero-width characters, soft hyphens, the BOM and variation selectors vanish;
    whatever is left (emoji, CJK, Arabic...) becomes ``?``. ``\\r\\n`` becomes ``\\n`` (one septet less).
    """
    text = text.replace("\r\n", "\n")
    return "".join(_downgrade_char(ch) for ch in text)


def _pack(costs: list[int], single: int, multi: int) -> int:
    """Segments needed when no character (escape pair, surrogate pair) may straddle two segments."""
    total = sum(costs)
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def count_segments(text: str) -> SegmentCount:
    """Encoding, length in units and number of SMS segments of ``text`` as it stands (not sanitised).

    An empty text still costs one segment: a message is at least one PDU.
    """
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SegmentCount("GSM-7", sum(costs), _pack(costs, GSM7_SINGLE, GSM7_MULTI))
    # UCS-2 as sent in practice is UTF-16: characters outside the BMP (emoji) take a surrogate pair.
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SegmentCount("UCS-2", sum(costs), _pack(costs, UCS2_SINGLE, UCS2_MULTI))
