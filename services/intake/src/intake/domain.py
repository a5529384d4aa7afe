"""Rules of intake that do not touch the database: codes, the NIK, statuses and who may move them, queue tickets,
the requirements checklist, what tracking tells an applicant, and the satisfaction survey's index (SKM)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from importlib import resources
from typing import Literal

from mpp_contracts.catalog import RequirementItem
from mpp_contracts.intake import ApplicationChannel, ApplicationStatus
from mpp_contracts.routing import Outcome

# Crockford's base32 without I, L, O, U: nothing an applicant can misread on a basic phone's screen.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHAR = "[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]"  # the alphabet above, in either case (codes are upper-cased)
TRACKING_CODE_PATTERN = f"^{_CODE_CHAR}{{4}}-{_CODE_CHAR}{{4}}$"

# A NIK as the API takes it: 16 ASCII digits, spaces anywhere ignored ("6402 0212 0385 0002").
NIK_PATTERN = r"^ *(?:[0-9] *){16}$"
_ASCII_DIGITS = frozenset("0123456789")

# The 38 province codes (kode wilayah) of Kepmendagri No. 100.1.1-6117 Tahun 2022 (kode dan data wilayah
# administrasi pemerintahan), which added 93-96 for the provinces split from Papua in 2022; a NIK starts with
# the code of the province where it was issued. The kabupaten/kota codes (digits 3-4) come from data/
# kabupaten_kota.csv, whose header names its source.
PROVINCE_CODES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}


def new_tracking_code() -> str:
    """Eight random characters in two groups (40 bits), e.g. `7F3K-9Q2M`."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def _kabupaten_kota_codes() -> frozenset[str]:
    text = resources.files("intake").joinpath("data/kabupaten_kota.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return frozenset(row["code"].replace(".", "") for row in rows)


# Every kabupaten/kota code listed since 2016 (a NIK keeps the code of its first registration: Papua's before the
# 2022 split are there). Not in those lists: the codes Kalimantan Utara's regencies and Tarakan had in province
# 64 until UU No. 20 Tahun 2012 moved them to 65 as 65.01-65.04 and 65.71. Which old code was which is not in
# the sources here, so the five 64.xx numbers left free since (64.04-64.06, 64.10, 64.73) are all accepted: a
# NIK from there issued before 2012 must not be refused.
KABUPATEN_KOTA_CODES: frozenset[str] = _kabupaten_kota_codes() | {"6404", "6405", "6406", "6410", "6473"}


def validate_nik(value: str) -> str:
    """A NIK is 16 digits: province (2), kabupaten/kota (2), kecamatan (2), birth date DDMMYY (+40 on the day for
    women), serial (4). Only the shape is checked, not the civil registry.

    Only ASCII 0-9: `str.isdigit()` also takes full-width and Arabic-Indic digits, which were stored as such.
    """
    nik = value.replace(" ", "")
    if len(nik) != 16 or not set(nik) <= _ASCII_DIGITS:
        raise ValueError("must be exactly 16 digits (0-9)")
    if nik[:2] not in PROVINCE_CODES:
        raise ValueError("does not start with a valid province code")
    if nik[:4] not in KABUPATEN_KOTA_CODES:
        raise ValueError("does not contain a valid kabupaten/kota code")
    if nik[4:6] == "00":
        raise ValueError("does not contain a valid kecamatan code")
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    try:
        date(2000 + year, month, day)  # 2000 is a leap year like 1900 is not: 29 Feb is taken either way
    except ValueError:
        raise ValueError("does not contain a valid birth date") from None
    if nik[12:] == "0000":
        raise ValueError("has an invalid serial number")
    return nik


# ---- statuses ----------------------------------------------------------------------------------------------

# The statuses an operator may set with a plain status change. `submitted`/`incomplete` come from a submit,
# `routed_local`/`forwarded`/`refused`/`no_show` and `expected` from routing's events, `checked_in` from a check-in,
# `sent_to_origin` from marking a forwarded application ready, `cancelled` from a cancel (which takes a reason).
OperatorStatus = Literal["in_progress", "ready_for_pickup", "completed", "rejected"]

# Every legal move of an application's status, whoever makes it (operator endpoints and routing's events).
TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    "submitted": frozenset(
        {"routed_local", "forwarded", "refused", "in_progress", "ready_for_pickup", "rejected", "cancelled"}
    ),
    "incomplete": frozenset({"routed_local", "forwarded", "refused", "in_progress", "rejected", "cancelled"}),
    "routed_local": frozenset({"in_progress", "ready_for_pickup", "rejected", "cancelled"}),
    # Handled at the central site: here it waits for the result (or for the appointment to be given back/missed).
    "forwarded": frozenset({"ready_for_pickup", "cancelled", "no_show"}),
    "expected": frozenset({"checked_in", "cancelled", "no_show"}),
    "checked_in": frozenset({"in_progress", "ready_for_pickup", "sent_to_origin", "rejected"}),
    "in_progress": frozenset({"ready_for_pickup", "sent_to_origin", "rejected"}),
    "ready_for_pickup": frozenset({"completed"}),
    "sent_to_origin": frozenset(),
    "refused": frozenset(),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "rejected": frozenset(),
    # A missed appointment may be booked again (routing answers a reschedule request with a new slot).
    "no_show": frozenset({"forwarded", "expected"}),
    # Online: only the phone's one-time code makes it `submitted` (like a submit, not a move anyone else makes);
    # never verified, it is purged with the closed ones.
    "awaiting_verification": frozenset(),
}
FINAL: frozenset[ApplicationStatus] = frozenset(s for s, moves in TRANSITIONS.items() if not moves)
# What an operator may choose through `POST /applications/{id}/status`; the other moves have their own endpoint.
OPERATOR_MOVES: frozenset[ApplicationStatus] = frozenset(
    {"in_progress", "ready_for_pickup", "completed", "rejected"}
)
# Statuses a cancel applies to (the applicant gave up, or the operator on their behalf).
CANCELLABLE: frozenset[ApplicationStatus] = frozenset(s for s, m in TRANSITIONS.items() if "cancelled" in m)


# Routing's outcome for an application of this site, as its status here.
ROUTED_STATUS: dict[Outcome, ApplicationStatus] = {
    "local": "routed_local",
    "central": "forwarded",
    "refused": "refused",
}


def may_move(current: ApplicationStatus, new: ApplicationStatus) -> bool:
    return new in TRANSITIONS[current]


def allowed_reason(current: ApplicationStatus, choices: Iterable[ApplicationStatus] | None = None) -> str:
    """The 409's reason: what `current` may become (through this endpoint when `choices` is given)."""
    allowed = TRANSITIONS[current] if choices is None else TRANSITIONS[current] & frozenset(choices)
    return f"allowed from {current}: {', '.join(sorted(allowed)) or 'none (it is final)'}"


def ready_status(origin_site_id: str | None, site_id: str, collected_at: str) -> ApplicationStatus:
    """Where a finished application waits: at this site, or sent back to the site where it was submitted."""
    if origin_site_id and origin_site_id != site_id and collected_at == "origin":
        return "sent_to_origin"
    return "ready_for_pickup"


# ---- queue tickets -----------------------------------------------------------------------------------------

# Administrative stems shared by several agency codes (DISHUB, DISDIKBUD...; BPJSKES, BPJSTK): the prefix keeps
# their first letter and takes the next two from what follows, so those agencies' counters differ on the board.
_SHARED_STEMS = ("BPJS", "DIS", "DIN")


def ticket_prefix(agency_code: str) -> str:
    """Three letters the counter calls out for an agency: DUKCAPIL -> DUK, IMIGRASI -> IMI, DISHUB -> DHU."""
    code = re.sub(r"[^A-Z0-9]", "", agency_code.upper()) or "X"
    for stem in _SHARED_STEMS:
        rest = code[len(stem) :]
        if code.startswith(stem) and len(rest) >= 2:
            return code[0] + rest[:2]
    return code[:3]


def queue_ticket(prefix: str, number: int) -> str:
    """`DUK-007`: the agency's counter, and the number of the day at that counter (per site, reset at midnight)."""
    return f"{prefix}-{number:03d}"


def gets_ticket_at_submit(channel: ApplicationChannel) -> bool:
    """At the counter and the kiosk the applicant is there; online, the ticket waits for the arrival."""
    return channel != "online"


# ---- requirements checklist --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistOutcome:
    missing: tuple[str, ...]  # mandatory requirements not provided
    unknown: tuple[str, ...]  # names the service does not require


def check_requirements(
    required: Iterable[RequirementItem], named: Iterable[str], provided: Iterable[str]
) -> ChecklistOutcome:
    """Which mandatory requirements were not provided, and which named ones the service does not require.
    A service with an empty checklist has nothing to check (and then any names given are simply kept)."""
    required = tuple(required)
    names = {item.name for item in required}
    given = set(provided)
    return ChecklistOutcome(
        missing=tuple(item.name for item in required if not item.optional and item.name not in given),
        unknown=tuple(sorted(set(named) - names)) if required else (),
    )


def missing_note(missing: Iterable[str]) -> str:
    """The note of an `incomplete` status: what is still missing, as the SMS would say it."""
    return "Belum lengkap: " + ", ".join(missing)


# ---- what tracking tells the applicant ---------------------------------------------------------------------

_NEXT_STEP: dict[ApplicationStatus, str] = {
    "submitted": "Permohonan sedang diperiksa. Tunggu SMS berikutnya.",
    "incomplete": "Lengkapi persyaratan yang belum ada di loket tempat Anda mendaftar.",
    "routed_local": "Permohonan diproses di tempat Anda mendaftar. Tunggu SMS saat siap diambil.",
    "forwarded": "Datang ke {tempat} sesuai jadwal dan bawa dokumen asli yang diminta.",
    "refused": "Permohonan tidak dapat dilayani di sini. Lihat alasannya di riwayat.",
    "expected": "Datang ke {tempat} sesuai jadwal dan bawa dokumen asli yang diminta.",
    "checked_in": "Anda sudah hadir. Tunggu nomor antrean Anda dipanggil.",
    "in_progress": "Permohonan sedang diproses. Tunggu SMS saat siap diambil.",
    "ready_for_pickup": "Dokumen siap diambil di {tempat}. Bawa KTP-el dan kode lacak.",
    "sent_to_origin": "Dokumen dikirim ke tempat Anda mendaftar. Tunggu SMS saat siap diambil.",
    "completed": "Selesai. Dokumen sudah diserahkan.",
    "cancelled": "Permohonan dibatalkan. Daftar lagi bila masih diperlukan.",
    "rejected": "Permohonan ditolak. Lihat alasannya di riwayat, lalu daftar lagi bila perlu.",
    "no_show": "Anda tidak hadir pada jadwal. Minta jadwal baru di tempat Anda mendaftar.",
    "awaiting_verification": "Masukkan kode verifikasi yang dikirim lewat SMS ke nomor Anda.",
}


def next_step(status: ApplicationStatus, place: str) -> str:
    """One sentence in Bahasa Indonesia: what the applicant does now."""
    return _NEXT_STEP[status].format(tempat=place or "lokasi layanan")


# ---- abuse and personal data -------------------------------------------------------------------------------

# Closed applications, whose personal fields are purged after the retention period (no_show: unless booked again
# before it ends); an online application never verified is abandoned and purged with them.
PURGEABLE: frozenset[ApplicationStatus] = frozenset(
    {"completed", "cancelled", "rejected", "refused", "no_show", "awaiting_verification"}
)
VERIFICATION_CODE_DIGITS = 6


def new_verification_code() -> str:
    """Six random digits (`012345`): short enough to type from an SMS, with few attempts allowed."""
    return f"{secrets.randbelow(10**VERIFICATION_CODE_DIGITS):0{VERIFICATION_CODE_DIGITS}d}"


def keyed_digest(key: bytes, *parts: str) -> str:
    """HMAC-SHA-256 of `parts` (as a JSON list, so no choice of parts reads as another): what intake stores of a
    verification code, a request body, a client address or a tracking code, unreadable without the key."""
    return hmac.new(key, json.dumps(parts).encode(), hashlib.sha256).hexdigest()


def first_name(full_name: str) -> str:
    return full_name.split()[0][:20] if full_name.split() else ""


# ---- the satisfaction survey (SKM) -------------------------------------------------------------------------

# Survei Kepuasan Masyarakat as PermenPANRB No. 14 Tahun 2017 (Pedoman Penyusunan Survei Kepuasan Masyarakat Unit
# Penyelenggara Pelayanan Publik) defines it: nine elements (unsur), each answered on a scale of 1 (tidak
# sesuai) to 4 (sangat sesuai). Keys as the API names them, in the regulation's order U1-U9.
SURVEY_ELEMENTS: tuple[tuple[str, str], ...] = (
    ("requirements", "Persyaratan"),
    ("procedure", "Sistem, Mekanisme, dan Prosedur"),
    ("completion_time", "Waktu Penyelesaian"),
    ("cost", "Biaya/Tarif"),
    ("product", "Produk Spesifikasi Jenis Pelayanan"),
    ("competence", "Kompetensi Pelaksana"),
    ("conduct", "Perilaku Pelaksana"),
    ("complaints", "Penanganan Pengaduan, Saran dan Masukan"),
    ("facilities", "Sarana dan Prasarana"),
)
SURVEY_KEYS: tuple[str, ...] = tuple(key for key, _ in SURVEY_ELEMENTS)
SUGGESTION_MAX_CHARS = 500

# When the survey opens: `completed`, the one status saying the applicant received the result (the operator
# handed it over). Not `ready_for_pickup` (the product, element 5, is not in their hands yet), not
# `sent_to_origin` (the central site's copy of a result collected at the origin: the origin's copy is the one
# completed), and not rejected, refused, cancelled or no_show (no service was delivered to judge).
SURVEY_OPENS_AT: frozenset[ApplicationStatus] = frozenset({"completed"})
SurveyState = Literal["open", "done"]
QualityBand = Literal["A", "B", "C", "D"]

# Mutu pelayanan by IKM (the regulation's table of nilai interval konversi), checked from A down on the IKM
# rounded to two decimals as the table writes its limits: A 88.31-100, B 76.61-88.30, C 65.00-76.60, D 25.00-64.99.
QUALITY_BANDS: tuple[tuple[Decimal, QualityBand, str], ...] = (
    (Decimal("88.31"), "A", "Sangat Baik"),
    (Decimal("76.61"), "B", "Baik"),
    (Decimal("65.00"), "C", "Kurang Baik"),
    (Decimal("25.00"), "D", "Tidak Baik"),
)


def survey_state(status: ApplicationStatus, answered: bool) -> SurveyState | None:
    """What tracking says of the survey: answered already, open to answer, or not (yet) for this application."""
    if answered:
        return "done"
    return "open" if status in SURVEY_OPENS_AT else None


@dataclass(frozen=True)
class SurveyIndex:
    """A site's SKM over some responses: NRR per element (in SURVEY_ELEMENTS' order), the IKM and its band."""

    responses: int
    nrr: tuple[Decimal, ...]  # average score per element, 1.00-4.00, two decimals
    ikm: Decimal  # 25.00-100.00, two decimals
    band: QualityBand
    quality: str  # the band's name (mutu pelayanan)


def _two_decimals(value: Fraction) -> Decimal:
    """Rounded half up to 0.01, as the regulation's tables show their values."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def quality_band(ikm: Decimal) -> tuple[QualityBand, str]:
    """The mutu pelayanan of an IKM (two decimals): A Sangat Baik down to D Tidak Baik."""
    for lowest, band, name in QUALITY_BANDS:
        if ikm >= lowest:
            return band, name
    raise ValueError(f"an IKM is 25.00-100.00, not {ikm}")


def survey_index(responses: int, totals: Iterable[int]) -> SurveyIndex | None:
    """The IKM of `responses` answers whose scores add up to `totals` per element (SURVEY_ELEMENTS' order); None
    without a response.

    NRR per element = its average score; IKM = (sum of NRR x 1/9) x 25. The regulation's worked tables write the
    weight 1/9 as 0.111; the exact ninth is used here, so all answers 4 give 100.00 and all 1 give 25.00 as its
    range says. Exact fractions until the IKM is rounded once to two decimals (the NRR shown are rounded apart)."""
    sums = tuple(totals)
    if len(sums) != len(SURVEY_ELEMENTS):
        raise ValueError(f"{len(SURVEY_ELEMENTS)} elements, not {len(sums)}")
    if responses <= 0:
        return None
    nrr = [Fraction(total, responses) for total in sums]
    ikm = _two_decimals(sum(nrr, Fraction(0)) / len(nrr) * 25)
    band, name = quality_band(ikm)
    return SurveyIndex(responses, tuple(_two_decimals(v) for v in nrr), ikm, band, name)


# ---- who may do what ----------------------------------------------------------------------------------------

# A supervisor may also do what cannot be undone: cancel an application (its central slot is given back) and
# erase an applicant's personal data. Everything else an operator does is a step of the daily work.
OperatorRole = Literal["operator", "supervisor"]
OPERATOR_ROLES: tuple[OperatorRole, ...] = ("operator", "supervisor")


def role_of_claim(claim: object) -> OperatorRole:
    """A signed token's `role` claim: exactly "supervisor" is a supervisor; anything else an operator."""
    return "supervisor" if claim == "supervisor" else "operator"


def static_role(text: str, name: str) -> OperatorRole:
    """The `#role` of a static token (empty: operator); ValueError for a role intake does not know."""
    role = text.strip() or "operator"
    if role == "supervisor":
        return "supervisor"
    if role == "operator":
        return "operator"
    raise ValueError(f"operator {name!r}: role must be one of {', '.join(OPERATOR_ROLES)}, not {role!r}")


# ---- asking for the phone's code again ----------------------------------------------------------------------


@dataclass(frozen=True)
class ResendRefusal:
    """Why a new code is not sent now: `wait_s` > 0 when it can be asked again after that many seconds."""

    code: str
    message: str
    wait_s: float = 0.0


def resend_refusal(
    *, resends: int, since_last_s: float, max_resends: int, interval_s: int
) -> ResendRefusal | None:
    """None when another code may be texted: fewer than `max_resends` so far and `interval_s` since the last."""
    if resends >= max_resends:
        return ResendRefusal("resends_exhausted", f"a new code was sent {resends} times already: apply again")
    if since_last_s < interval_s:
        return ResendRefusal(
            "resend_too_soon",
            "a code was sent moments ago: wait before asking again",
            interval_s - since_last_s,
        )
    return None
