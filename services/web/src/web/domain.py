"""The web's rules, pure (no I/O): words in Bahasa Indonesia for what the services answer, dates in the site's
time zone, checks of what a person typed (each with its reason in Bahasa Indonesia), who may do what, and the
satisfaction survey's questions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from mpp_kit.phone import InvalidPhoneNumber, normalize_msisdn

Role = Literal["operator", "supervisor"]
ROLES: tuple[Role, ...] = ("operator", "supervisor")
DEFAULT_TIME_ZONE = "Asia/Makassar"  # Kutai Kartanegara: WITA

STATUS_LABELS: dict[str, str] = {
    "awaiting_verification": "Menunggu kode verifikasi",
    "submitted": "Diterima",
    "incomplete": "Belum lengkap",
    "routed_local": "Diproses di sini",
    "forwarded": "Diteruskan ke MPP pusat",
    "refused": "Tidak dapat dilayani",
    "expected": "Dijadwalkan datang",
    "checked_in": "Sudah hadir",
    "in_progress": "Sedang diproses",
    "ready_for_pickup": "Siap diambil",
    "sent_to_origin": "Dikirim ke tempat asal",
    "completed": "Selesai",
    "cancelled": "Dibatalkan",
    "rejected": "Ditolak",
    "no_show": "Tidak hadir",
}
CHANNEL_LABELS = {"counter": "Loket", "online": "Daring", "kiosk": "Anjungan"}
FORM_LABELS = {"original": "asli", "copy": "fotokopi", "digital": "berkas digital"}
REASON_LABELS = {
    "biometrics": "perlu perekaman foto dan sidik jari",
    "secure_printing": "dicetak dengan pengamanan khusus",
    "physical_inspection": "perlu pemeriksaan fisik",
    "court": "diputus oleh pengadilan",
    "originals": "perlu pemeriksaan dokumen asli",
}

# What an operator may set by hand from each status (intake enforces the same; the page offers only these).
OPERATOR_MOVES: dict[str, tuple[str, ...]] = {
    "submitted": ("in_progress", "ready_for_pickup", "rejected"),
    "incomplete": ("in_progress", "rejected"),
    "routed_local": ("in_progress", "ready_for_pickup", "rejected"),
    "checked_in": ("in_progress", "ready_for_pickup", "rejected"),
    "in_progress": ("ready_for_pickup", "rejected"),
    "ready_for_pickup": ("completed",),
}
CANCELLABLE = frozenset({"submitted", "incomplete", "routed_local", "forwarded", "expected"})
RESCHEDULABLE = frozenset({"forwarded", "expected", "no_show"})

_MONTHS = "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember".split()
_DAYS = "Senin Selasa Rabu Kamis Jumat Sabtu Minggu".split()
_ZONE_NAMES = {7 * 3600: "WIB", 8 * 3600: "WITA", 9 * 3600: "WIT"}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def allowed_moves(status: str) -> tuple[str, ...]:
    return OPERATOR_MOVES.get(status, ())


def may_cancel(role: Role, status: str) -> bool:
    """Cancelling throws an applicant's application away: a supervisor's decision."""
    return role == "supervisor" and status in CANCELLABLE


# Closed applications, whose personal data may be erased on the applicant's request (intake refuses an open one).
ERASABLE = frozenset({"completed", "cancelled", "rejected", "refused", "no_show", "awaiting_verification"})


def may_erase(role: Role, application: Mapping[str, Any]) -> bool:
    """Erasing an applicant's personal data cannot be undone: a supervisor's, for a closed application whose data
    is still there."""
    return role == "supervisor" and application["status"] in ERASABLE and bool(application["applicant_name"])


# What the operator does next, by status (the applicant's next step is intake's, in public tracking).
OPERATOR_NEXT: dict[str, str] = {
    "awaiting_verification": "Pemohon daring belum memasukkan kode verifikasi dari SMS. Tidak ada tindakan.",
    "submitted": "Tunggu sebentar: sistem menentukan diproses di sini atau diteruskan ke MPP pusat.",
    "incomplete": "Minta pemohon melengkapi persyaratan yang belum ada, lalu proses.",
    "routed_local": "Proses berkasnya, lalu tandai Siap diambil (pemohon mendapat SMS).",
    "forwarded": "Pemohon datang ke MPP pusat sesuai jadwal. Hasilnya kembali ke sini bila diambil di sini.",
    "refused": "Tidak ada tindakan. Jelaskan alasannya bila pemohon datang.",
    "expected": "Catat hadir saat pemohon datang; ia mendapat nomor antrean di loket instansinya.",
    "checked_in": "Proses berkasnya, lalu tandai selesai.",
    "in_progress": "Tandai Siap diambil setelah selesai (pemohon mendapat SMS).",
    "ready_for_pickup": "Serahkan dokumen kepada pemohon (periksa KTP-el dan kode lacak), lalu tandai Selesai.",
    "sent_to_origin": "Hasil dikirim ke tempat pemohon mendaftar. Tidak ada tindakan di sini.",
    "completed": "Selesai. Tidak ada tindakan.",
    "cancelled": "Dibatalkan. Tidak ada tindakan.",
    "rejected": "Ditolak. Pemohon dapat mendaftar lagi.",
    "no_show": "Pemohon tidak hadir. Minta jadwal baru bila pemohon masih memerlukannya.",
}


@dataclass(frozen=True)
class Actions:
    """What the application's page offers the operator now."""

    moves: tuple[str, ...]
    cancel: bool
    erase: bool
    reschedule: bool
    check_in: bool
    finish: bool  # a forwarded application done at the central MPP goes back to where it is collected


def actions(role: Role, application: Mapping[str, Any]) -> Actions:
    status = str(application["status"])
    return Actions(
        moves=allowed_moves(status),
        cancel=may_cancel(role, status),
        erase=may_erase(role, application),
        reschedule=status in RESCHEDULABLE,
        # An expected arrival, or an online applicant coming to the counter, gets the day's ticket.
        check_in=status == "expected"
        or (
            application["channel"] == "online"
            and not application["queue_ticket"]
            and status in ("submitted", "incomplete", "routed_local")
        ),
        finish=status in ("checked_in", "in_progress") and application["origin_site_id"] is not None,
    )


def rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def local_time(value: datetime | str | None, tz: str = DEFAULT_TIME_ZONE) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(tz))


def zone_name(moment: datetime) -> str:
    offset = moment.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    return _ZONE_NAMES.get(seconds, moment.strftime("UTC%z"))


def long_date(day: date) -> str:
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def date_time(value: datetime | str | None, tz: str = DEFAULT_TIME_ZONE) -> str:
    """`Senin, 1 Desember 2026 pukul 09.30 WITA`: in the site's zone, as people there say it."""
    moment = local_time(value, tz)
    if moment is None:
        return "-"
    return f"{long_date(moment.date())} pukul {moment:%H.%M} {zone_name(moment)}"


def short_time(value: datetime | str | None, tz: str = DEFAULT_TIME_ZONE) -> str:
    moment = local_time(value, tz)
    return "-" if moment is None else f"{moment:%H.%M}"


def today(tz: str = DEFAULT_TIME_ZONE, now: datetime | None = None) -> date:
    return (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()


# ---- what a person typed -------------------------------------------------------------------------------------


@dataclass
class FormCheck:
    """The values as typed (kept to fill the form again) and, per field, the reason it was refused."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def refuse(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, reason)


_NAME_RE = re.compile(r"^[^\x00-\x1f<>{}]{2,120}$")
AGENCY_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
TRACKING_CODE_RE = re.compile(r"^[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}$")


def check_applicant(values: Mapping[str, str]) -> FormCheck:
    """Name, NIK and phone of an applicant, as far as the web can tell (intake checks the NIK's codes too)."""
    check = FormCheck({k: values.get(k, "").strip() for k in ("nama", "nik", "hp")})
    name, nik, phone = check.values["nama"], check.values["nik"], check.values["hp"]
    if not name:
        check.refuse("nama", "Nama wajib diisi, sesuai KTP-el.")
    elif not _NAME_RE.match(name):
        check.refuse("nama", "Nama 2 sampai 120 huruf, tanpa tanda < > { }.")
    digits = nik.replace(" ", "")
    if not digits:
        check.refuse("nik", "NIK wajib diisi.")
    elif not (digits.isascii() and digits.isdigit()):
        check.refuse("nik", "NIK hanya berisi angka 0-9.")
    elif len(digits) != 16:
        check.refuse("nik", f"NIK harus 16 angka; yang diisi {len(digits)} angka.")
    if not phone:
        check.refuse("hp", "Nomor HP wajib diisi, untuk menerima SMS.")
    else:
        try:
            normalize_msisdn(phone)
        except InvalidPhoneNumber:
            check.refuse("hp", "Nomor HP tidak dikenali. Tulis nomor seluler, misalnya 0812-3456-7890.")
    return check


# Intake's field names -> the form's, and what to tell the person when intake refuses that field.
INTAKE_FIELDS: dict[str, tuple[str, str]] = {
    "applicant.name": ("nama", "Nama tidak dapat diterima. Periksa kembali, sesuai KTP-el."),
    "applicant.nik": (
        "nik",
        "NIK tidak sah: periksa kode wilayah (6 angka pertama) dan tanggal lahir (6 angka berikutnya).",
    ),
    "applicant.phone": ("hp", "Nomor HP tidak dapat menerima SMS. Tulis nomor seluler Indonesia."),
    "service_code": ("layanan", "Layanan ini tidak tersedia lagi. Pilih layanan lain."),
    "checklist": ("persyaratan", "Persyaratan wajib belum lengkap."),
    "accept_incomplete": ("lengkap", "Permohonan belum lengkap hanya dapat diterima di loket."),
}


def intake_problems(fields: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Intake's 422 fields as the form's fields with reasons in Bahasa Indonesia; unknown ones under `umum`."""
    found: dict[str, str] = {}
    for problem in fields:
        name = str(problem.get("field", ""))
        form_field, reason = INTAKE_FIELDS.get(name, ("umum", "Data belum dapat diterima. Periksa kembali."))
        if name == "checklist":
            missing = str(problem.get("reason", "")).removeprefix("missing: ")
            reason = f"Persyaratan wajib belum ada: {missing}." if missing else reason
            found[form_field] = (found[form_field] + " " + reason) if form_field in found else reason
        else:
            found.setdefault(form_field, reason)
    return found


def check_tracking(values: Mapping[str, str]) -> FormCheck:
    check = FormCheck({k: values.get(k, "").strip() for k in ("kode", "hp4")})
    code, last4 = check.values["kode"], check.values["hp4"]
    if not code:
        check.refuse("kode", "Kode lacak wajib diisi; ada di SMS, misalnya 7F3K-9Q2M.")
    elif not TRACKING_CODE_RE.match(code):
        check.refuse("kode", "Kode lacak 8 huruf dan angka, misalnya 7F3K-9Q2M.")
    if not re.fullmatch(r"[0-9]{4}", last4):
        check.refuse("hp4", "Tulis 4 angka terakhir nomor HP yang didaftarkan.")
    return check


def too_many_requests(retry_after_s: int) -> str:
    return f"Terlalu banyak permintaan, coba lagi dalam {retry_after_s} detik."


def resend_too_soon(retry_after_s: int) -> str:
    return f"Kode baru baru saja dikirim. Tunggu {retry_after_s} detik sebelum meminta kode lagi."


def check_sms_code(values: Mapping[str, str]) -> FormCheck:
    """The six digits of the SMS; spaces or a dash typed between them are dropped."""
    typed = values.get("kode", "").strip()
    digits = re.sub(r"[\s-]", "", typed)
    check = FormCheck({"kode": digits if re.fullmatch(r"[0-9]{6}", digits) else typed})
    if not typed:
        check.refuse("kode", "Kode wajib diisi: 6 angka di SMS yang baru dikirim ke HP Anda.")
    elif not re.fullmatch(r"[0-9]{6}", digits):
        check.refuse("kode", "Kode terdiri dari 6 angka, misalnya 123456.")
    return check


def attempts_left(fields: Iterable[Mapping[str, Any]]) -> int | None:
    """From intake's refusal of a wrong code (`wrong code; 3 attempts left`): how many tries remain."""
    for problem in fields:
        found = re.search(r"([0-9]+) attempts? left", str(problem.get("reason", "")))
        if problem.get("field") == "code" and found:
            return int(found.group(1))
    return None


def wrong_code(left: int | None) -> str:
    if left is None:
        return "Kode salah. Periksa kembali 6 angka di SMS."
    return f"Kode salah. Periksa kembali 6 angka di SMS; sisa percobaan: {left} kali."


def tracking_code(typed: str) -> str:
    code = typed.strip().upper().replace("-", "")
    return f"{code[:4]}-{code[4:]}"


def merge_tracking(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One application as several sites' intakes know it (a forwarded one: its origin and the central MPP): the
    status, next step and appointment of the freshest answer, and every site's history in time order."""
    freshest = max(answers, key=lambda a: str(a["updated_at"]))
    steps = {
        (datetime.fromisoformat(str(h["at"])), h["status"]): h
        for answer in answers
        for h in answer.get("history", [])
    }
    appointment = freshest.get("appointment") or next(
        (a["appointment"] for a in answers if a.get("appointment")), None
    )
    return {**freshest, "appointment": appointment, "history": [steps[k] for k in sorted(steps)]}


def check_note(value: str, *, required: bool) -> str | None:
    """A short note for the applicant's SMS: the reason it is refused, or None."""
    return _check_reason(
        value,
        missing="Alasan wajib diisi; dikirim ke pemohon lewat SMS." if required else None,
        wrong_length="Alasan 3 sampai 60 huruf (dikirim lewat SMS).",
    )


def check_erasure_reason(value: str) -> str | None:
    """Why an applicant's data is erased (kept in the history, not texted): as short and as free of personal data
    as a note."""
    return _check_reason(
        value,
        missing="Alasan wajib diisi, misalnya: permintaan pemohon.",
        wrong_length="Alasan 3 sampai 60 huruf.",
    )


def _check_reason(value: str, *, missing: str | None, wrong_length: str) -> str | None:
    """A reason the application keeps: 3 to 60 characters, no NIK or phone number in it. `missing` is what an
    empty one is told (None: it may be empty)."""
    reason = value.strip()
    if not reason:
        return missing
    if len(reason) < 3 or len(reason) > 60:
        return wrong_length
    if re.search(r"[0-9]{6,}", reason):
        return "Jangan menulis NIK atau nomor HP di alasan."
    return None


# ---- the satisfaction survey (SKM) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyQuestion:
    """One element (unsur) of PermenPANRB 14/2017 as the portal asks it: the form's field (u1-u9, the
    regulation's numbering), intake's key, the question in plain words, and the four answers, scored 1-4."""

    field: str
    key: str
    element: str
    question: str
    answers: tuple[str, str, str, str]


# The nine elements in the regulation's order. Each is scored 1 (tidak sesuai / tidak baik), 2 (kurang), 3 (sesuai
# / baik) or 4 (sangat sesuai / sangat baik); the answers say it in the question's own words.
SURVEY_QUESTIONS: tuple[SurveyQuestion, ...] = (
    SurveyQuestion(
        "u1",
        "requirements",
        "Persyaratan",
        "Apakah persyaratan yang diminta sesuai dengan jenis layanannya?",
        ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"),
    ),
    SurveyQuestion(
        "u2",
        "procedure",
        "Sistem, mekanisme, dan prosedur",
        "Seberapa mudah alur dan cara pengurusannya?",
        ("Tidak mudah", "Kurang mudah", "Mudah", "Sangat mudah"),
    ),
    SurveyQuestion(
        "u3",
        "completion_time",
        "Waktu penyelesaian",
        "Seberapa cepat permohonan Anda diselesaikan?",
        ("Tidak cepat", "Kurang cepat", "Cepat", "Sangat cepat"),
    ),
    SurveyQuestion(
        "u4",
        "cost",
        "Biaya/tarif",
        "Apakah biaya yang Anda bayar sesuai dengan yang tertulis di standar pelayanan (termasuk bila gratis)?",
        ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"),
    ),
    SurveyQuestion(
        "u5",
        "product",
        "Produk layanan",
        "Apakah hasil yang Anda terima sesuai dengan yang dijanjikan di standar pelayanan?",
        ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"),
    ),
    SurveyQuestion(
        "u6",
        "competence",
        "Kompetensi petugas",
        "Seberapa paham dan mampu petugas melayani Anda?",
        ("Tidak mampu", "Kurang mampu", "Mampu", "Sangat mampu"),
    ),
    SurveyQuestion(
        "u7",
        "conduct",
        "Perilaku petugas",
        "Seberapa sopan dan ramah petugas melayani Anda?",
        ("Tidak sopan dan ramah", "Kurang sopan dan ramah", "Sopan dan ramah", "Sangat sopan dan ramah"),
    ),
    SurveyQuestion(
        "u8",
        "complaints",
        "Penanganan pengaduan, saran, dan masukan",
        "Bagaimana tempat ini menerima dan menanggapi pengaduan, saran, dan masukan?",
        ("Tidak ada", "Ada, tetapi tidak ditanggapi", "Ditanggapi, kurang baik", "Ditanggapi dengan baik"),
    ),
    SurveyQuestion(
        "u9",
        "facilities",
        "Sarana dan prasarana",
        "Bagaimana tempat pelayanan (ruang tunggu, tempat duduk, toilet, parkir)?",
        ("Buruk", "Cukup", "Baik", "Sangat baik"),
    ),
)
SUGGESTION_MAX_CHARS = 500  # as intake takes it


def check_survey(values: Mapping[str, str]) -> FormCheck:
    """The nine answers (each 1-4) and the optional suggestion, as typed."""
    fields = [q.field for q in SURVEY_QUESTIONS]
    check = FormCheck({name: values.get(name, "").strip() for name in fields})
    check.values["saran"] = values.get("saran", "")
    for question in SURVEY_QUESTIONS:
        if check.values[question.field] not in ("1", "2", "3", "4"):
            check.refuse(question.field, "Pilih salah satu jawaban.")
    suggestion = check.values["saran"].strip()
    if len(suggestion) > SUGGESTION_MAX_CHARS:
        check.refuse(
            "saran",
            f"Saran paling banyak {SUGGESTION_MAX_CHARS} huruf; yang ditulis {len(suggestion)} huruf.",
        )
    elif "\x00" in suggestion:
        check.refuse("saran", "Saran berisi karakter yang tidak dapat diterima. Tulis ulang sarannya.")
    return check


def survey_body(values: Mapping[str, str]) -> dict[str, Any]:
    """Intake's answers and suggestion from a checked form."""
    suggestion = values.get("saran", "").strip()
    return {
        "answers": {q.key: int(values[q.field]) for q in SURVEY_QUESTIONS},
        **({"suggestion": suggestion} if suggestion else {}),
    }


def survey_offer(answers: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    """Where the applicant's survey is, from every site's tracking answer: (site, `open`) at the site that completed
    the application and has no response yet; else (site, `done`) once answered; None before completion."""
    found = list(answers)
    for state in ("open", "done"):
        for answer in found:
            if answer.get("survey") == state:
                return str(answer["site_id"]), state
    return None


def check_period(first: str, last: str) -> FormCheck:
    """The console summary's days (YYYY-MM-DD, both optional)."""
    check = FormCheck({"dari": first.strip(), "sampai": last.strip()})
    days: dict[str, date] = {}
    for name in ("dari", "sampai"):
        if check.values[name]:
            try:
                days[name] = date.fromisoformat(check.values[name])
            except ValueError:
                check.refuse(name, "Tanggal tidak dikenali. Pilih tanggal, misalnya 2026-01-01.")
    if "dari" in days and "sampai" in days and days["dari"] > days["sampai"]:
        check.refuse("dari", "Tanggal awal harus sebelum atau sama dengan tanggal akhir.")
    return check
