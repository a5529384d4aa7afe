"""SMS templates in Bahasa Indonesia, one per event, versioned, rendered fail-closed into one GSM-7 segment.

Rules (after GOV.UK Notify's conventions and Indonesian operators' practice):

- Placeholders are ``((name))`` (the GOV.UK Notify syntax, notifications-utils ``field.py``; re-implemented).
  A missing or blank required variable raises ``MissingTemplateVariable``: a wrong SMS is worse than none,
  and the caller records the failure instead of sending.
- The only personal data allowed is the applicant's first name (optional ``nama_depan``). No NIK, no phone
  number: a variable holding ten digits or more in a row, and a body holding sixteen (a NIK), are refused.
- Every body is downgraded to GSM-7 (``gsm7.sanitize``): Indonesian networks do not officially support UCS-2.
- Every template fits one segment with realistic long values (tests prove it); more than two segments is
  refused (``MessageTooLong``) because concatenated SMS are not guaranteed to arrive whole in Indonesia.
- The centre's name is in every text: operators require the brand in the content for registered sender IDs.
- One-way SMS: no reply hints.

Bump ``version`` when the wording changes, so a stored message says which text it was built from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from notify.gsm7 import Encoding, count_segments, sanitize

__all__ = [
    "MAX_SEGMENTS",
    "TEMPLATES",
    "ForbiddenContent",
    "MessageTooLong",
    "MissingTemplateVariable",
    "RenderedSms",
    "SmsTemplate",
    "TemplateError",
    "UnknownTemplate",
    "format_jam",
    "format_tanggal",
    "get_template",
    "render",
]

MAX_SEGMENTS = 2
FIRST_NAME = "nama_depan"
_FIRST_NAME_MAX = 12
_KEEPS_CAPITAL = "Anda "  # the courteous "you" keeps its capital after the greeting

_PLACEHOLDER = re.compile(r"\(\(([a-z_]+)\)\)")
# Runs of digits, allowing the separators people put inside them ("6402 0112 ...", "0812-3456-7890").
_DIGIT_RUN_VARIABLE = re.compile(r"\d(?:[ .\-]?\d){9,}")  # 10+ digits: a phone number or a NIK
_DIGIT_RUN_BODY = re.compile(r"\d(?:[ .\-]?\d){15,}")  # 16+ digits: a NIK (Dukcapil's 16-digit number)

_HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_BULAN = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
# Indonesia's three legal time zones (Keppres 41/1987): UTC+7 WIB, UTC+8 WITA, UTC+9 WIT.
_ZONA_BY_OFFSET = {timedelta(hours=7): "WIB", timedelta(hours=8): "WITA", timedelta(hours=9): "WIT"}


class TemplateError(ValueError):
    """Base class: the SMS cannot be rendered; nothing must be sent."""


class UnknownTemplate(TemplateError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown SMS template {name!r}")
        self.name = name


class MissingTemplateVariable(TemplateError):
    def __init__(self, template: str, missing: list[str]) -> None:
        super().__init__(f"template {template!r} is missing variables: {', '.join(missing)}")
        self.template = template
        self.missing = missing


class ForbiddenContent(TemplateError):
    """A value looks like a NIK or a phone number: personal data that must never be in an SMS."""

    def __init__(self, template: str, variable: str) -> None:
        super().__init__(f"template {template!r}: {variable} looks like a NIK or phone number")
        self.template = template
        self.variable = variable


class MessageTooLong(TemplateError):
    def __init__(self, template: str, segments: int) -> None:
        super().__init__(f"template {template!r} renders to {segments} segments (limit {MAX_SEGMENTS})")
        self.template = template
        self.segments = segments


@dataclass(frozen=True, slots=True)
class SmsTemplate:
    name: str
    version: int
    body: str
    description: str

    @property
    def required(self) -> tuple[str, ...]:
        """Variables the body needs, in order of first appearance."""
        return tuple(dict.fromkeys(_PLACEHOLDER.findall(self.body)))

    @property
    def optional(self) -> tuple[str, ...]:
        return (FIRST_NAME,)


@dataclass(frozen=True, slots=True)
class RenderedSms:
    template: str
    version: int
    body: str
    segments: int
    encoding: Encoding


# Variables: lokasi = site name ("Mini MPP Kota Bangun Darat"), kode = tracking code, layanan = service name,
# tanggal = format_tanggal(...), jam = format_jam(...), tempat = where to go, bawa = what to bring,
# alasan = short reason, kurang = the requirements still missing, mulai = the first day to try again. Bodies start
# with a fixed capitalised word (never a placeholder): the optional greeting "Yth. <first name>, " lowercases it
# (but "Anda", capitalised as a courtesy), and is left out when it would need a second segment.
_ALL = (
    SmsTemplate(
        name="permohonan_diterima",
        version=1,
        description="Application received at a site (local service).",
        body=(
            "Permohonan ((layanan)) diterima di ((lokasi)). Kode lacak ((kode)). "
            "Perkiraan selesai ((tanggal))."
        ),
    ),
    SmsTemplate(
        name="diteruskan_ke_pusat",
        version=1,
        description="Forwarded to the central MPP with a booked slot: date, time, place, what to bring.",
        body=("Datang ((tanggal)) jam ((jam)) ke ((tempat)) untuk ((layanan)) ((kode)). Bawa ((bawa))."),
    ),
    SmsTemplate(
        name="siap_diambil",
        version=1,
        description="The result is ready for pickup at a site.",
        body=("Dokumen ((layanan)) Anda (kode ((kode))) sudah selesai. Silakan ambil di ((lokasi))."),
    ),
    SmsTemplate(
        name="ditolak",
        version=1,
        description="The application was rejected: short reason.",
        body=("Permohonan ((layanan)) ((kode)) ditolak: ((alasan)). Info: ((lokasi))."),
    ),
    SmsTemplate(
        name="layanan_tidak_tersedia",
        version=1,
        description="Refusal: the service is not available at the chosen site; where to go instead.",
        body=("Maaf, ((layanan)) tidak tersedia di ((lokasi)). Silakan ajukan di ((tempat)). Kode ((kode))."),
    ),
    SmsTemplate(
        name="kuota_penuh",
        version=1,
        description="Refusal: no free appointment within the booking horizon; when to try again.",
        body=(
            "Maaf, jadwal ((layanan)) di ((tempat)) penuh. Permohonan ((kode)) belum terjadwal. "
            "Ajukan lagi mulai ((tanggal))."
        ),
    ),
    SmsTemplate(
        name="belum_lengkap",
        version=1,
        description="Accepted at the counter with mandatory requirements missing: which, and where to bring them.",
        body="Permohonan ((layanan)) ((kode)) belum lengkap: ((kurang)). Lengkapi di ((lokasi)).",
    ),
    SmsTemplate(
        name="jadwal_dipindah",
        version=1,
        description="The central appointment moved: the new date, time and place, what to bring.",
        body="Jadwal dipindah: ((tanggal)) jam ((jam)) di ((tempat)) untuk ((layanan)) ((kode)). Bawa ((bawa)).",
    ),
    SmsTemplate(
        name="jadwal_tetap",
        version=1,
        description="A move was asked but no slot was free: the old appointment stands; when to try again.",
        body=(
            "Jadwal ((layanan)) ((kode)) tetap ((tanggal)) di ((tempat)); yang lain penuh. "
            "Coba lagi mulai ((mulai))."
        ),
    ),
    SmsTemplate(
        name="jadwal_dibatalkan",
        version=1,
        description="The central appointment was given back.",
        body="Jadwal ((tanggal)) jam ((jam)) di ((tempat)) untuk ((layanan)) ((kode)) dibatalkan.",
    ),
    SmsTemplate(
        name="tidak_hadir",
        version=1,
        description="The applicant missed the central appointment: ask the origin site for a new one.",
        body="Anda tidak hadir ((tanggal)) di ((tempat)) untuk ((layanan)) ((kode)). Minta jadwal baru di ((lokasi)).",
    ),
    SmsTemplate(
        name="kode_verifikasi",
        version=1,
        description="The one-time code confirming an online applicant's phone (kode = six digits, not a NIK).",
        body="Kode verifikasi MPP: ((kode)). Berlaku 10 menit. Jangan berikan kepada siapa pun.",
    ),
)

TEMPLATES: Mapping[str, SmsTemplate] = {t.name: t for t in _ALL}


def get_template(name: str) -> SmsTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UnknownTemplate(name) from None


def _clean(value: str) -> str:
    # Newlines and runs of spaces in a value would reshape the text; one line, single spaces.
    return " ".join(value.split())


def _first_name(value: str | None) -> str | None:
    """First word only, letters (and ' -) only, at most 12 characters; None when nothing usable is left."""
    if not value:
        return None
    words = value.split()
    if not words:
        return None
    word = "".join(ch for ch in words[0] if ch.isalpha() or ch in "'-")[:_FIRST_NAME_MAX]
    return word.capitalize() if any(ch.isalpha() for ch in word) else None


def render(template_name: str, variables: Mapping[str, str]) -> RenderedSms:
    """Render a template fail-closed.

    Raises ``UnknownTemplate``, ``MissingTemplateVariable`` (a required variable missing or blank),
    ``ForbiddenContent`` (something that looks like a NIK or a phone number) or ``MessageTooLong`` (more than
    ``MAX_SEGMENTS`` segments). Extra variables are ignored.
    """
    template = get_template(template_name)
    values: dict[str, str] = {}
    missing: list[str] = []
    for key in template.required:
        raw = variables.get(key)
        value = _clean(raw) if isinstance(raw, str) else ""
        if not value:
            missing.append(key)
            continue
        if _DIGIT_RUN_VARIABLE.search(value):
            raise ForbiddenContent(template.name, key)
        values[key] = value
    if missing:
        raise MissingTemplateVariable(template.name, missing)

    body = sanitize(_PLACEHOLDER.sub(lambda m: values[m.group(1)], template.body))
    name = _first_name(variables.get(FIRST_NAME))
    if name:
        opening = body if body.startswith(_KEEPS_CAPITAL) else body[0].lower() + body[1:]
        greeted = sanitize(f"Yth. {name}, {opening}")
        # The greeting is a courtesy: it is dropped rather than let the text spill into a second segment.
        if count_segments(greeted).segments == 1:
            body = greeted
    if _DIGIT_RUN_BODY.search(body):  # belt and braces: a NIK cannot appear however the values combine
        raise ForbiddenContent(template.name, "body")
    count = count_segments(body)
    if count.segments > MAX_SEGMENTS:
        raise MessageTooLong(template.name, count.segments)
    return RenderedSms(template.name, template.version, body, count.segments, count.encoding)


def format_tanggal(value: date) -> str:
    """``date(2026, 12, 7)`` -> ``Senin, 7 Des 2026``."""
    return f"{_HARI[value.weekday()]}, {value.day} {_BULAN[value.month - 1]} {value.year}"


def format_jam(value: time | datetime, zona: str | None = None) -> str:
    """``time(8, 30)`` -> ``08.30 WITA`` (Indonesian style uses a dot between hours and minutes).

    The zone comes from ``zona`` when given, else from an aware value's UTC offset (WIB, WITA, WIT), else
    ``WITA``; callers should pass the site's zone so that no region is assumed. An aware value in another
    offset is refused: convert it to the site's local time first.
    """
    if zona is None:
        offset = value.utcoffset()
        if offset is None:
            zona = "WITA"
        elif offset in _ZONA_BY_OFFSET:
            zona = _ZONA_BY_OFFSET[offset]
        else:
            raise ValueError("convert the time to the site's local time (WIB, WITA or WIT) first")
    return f"{value.hour:02d}.{value.minute:02d} {zona}"
