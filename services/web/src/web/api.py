"""The web's pages: the public portal (catalogue, online application, tracking), login, and the counter console.

Every page is server-rendered HTML that works without JavaScript. Every form carries a CSRF field; a form that
creates something carries a key made when it was rendered (the Idempotency-Key intake stores), and every POST
that succeeds answers with a redirect to a page showing the result (POST/redirect/GET), so neither a double click
nor a reload submits twice.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from web import accounts, domain
from web.clients import Intake, Refused, Unavailable
from web.pages import (
    Ctx,
    Form,
    IntakeOf,
    NotAllowed,
    OperatorOf,
    checked_list,
    client_address,
    context,
    render,
    set_cookie,
)
from web.security import (
    SESSION_COOKIE,
    VERIFICATION_COOKIE,
    VERIFICATION_TTL_S,
    Operator,
    PendingVerification,
)

# Pages for people, not an API: kept out of /openapi.json (which lists only /healthz and /readyz).
public = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)
login = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)
counter = APIRouter(prefix="/konter", default_response_class=HTMLResponse, include_in_schema=False)

ServiceCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,63}$")]
ApplicationId = Annotated[UUID, Path()]
# Fixed messages shown after a redirect (never text taken from the URL).
NOTICES = {
    "diubah": "Status permohonan sudah diubah.",
    "siap": "Permohonan ditandai selesai.",
    "hadir": "Kehadiran pemohon dicatat dan nomor antrean diberikan.",
    "batal": "Permohonan dibatalkan.",
    "dihapus": "Data pribadi pemohon sudah dihapus. Riwayat mencatat siapa dan alasannya.",
    "jadwal": "Permintaan jadwal baru dikirim. Pemohon mendapat SMS jadwal baru.",
    "konflik": "Permohonan sudah berubah di tempat lain. Lihat status terbaru di bawah.",
    "terkirim": "Permohonan diterima.",
}


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def retry_later(response: Response, refused: Refused) -> Response:
    """A page answering intake's 429: the same wait for the browser (and any script) as intake said."""
    response.headers["Retry-After"] = str(refused.retry_after_s)
    return response


# ---- public portal --------------------------------------------------------------------------------------------


@public.get("/")
async def home(request: Request, ctx: Ctx) -> Response:
    return render(request, "beranda.html", sites=await ctx.sites.all())


@public.get("/layanan")
async def catalogue(
    request: Request,
    ctx: Ctx,
    q: Annotated[str, Query(max_length=100)] = "",
    tempat: Annotated[str, Query(max_length=63)] = "",
) -> Response:
    """The catalogue: search by what the applicant says ("bikin ktp", "paspor hilang"), at a site or anywhere."""
    sites = await ctx.sites.all()
    site = tempat if tempat in sites else None
    found = await ctx.catalog.search(q, site=site, limit=30)
    return render(request, "layanan.html", q=q, tempat=site or "", sites=sites, found=found)


@public.get("/layanan/{code}")
async def standard(request: Request, ctx: Ctx, code: ServiceCode) -> Response:
    """One service's standar pelayanan: requirements, procedure, time, fee and its legal basis, product,
    complaints."""
    service = await ctx.catalog.service(code.upper())
    sites = await ctx.sites.all()
    return render(
        request,
        "standar.html",
        service=service,
        sites=sites,
        online_sites=online_sites(service, sites, list(ctx.intakes)),
    )


async def _online_form(
    request: Request, ctx: Ctx, code: str, status_code: int = 200, **values: Any
) -> Response:
    service = await ctx.catalog.service(code.upper())
    sites = await ctx.sites.all()
    offering = online_sites(service, sites, list(ctx.intakes))
    return render(
        request,
        "ajukan.html",
        status_code,
        service=service,
        sites=sites,
        offering=offering,
        **values,
    )


def online_sites(service: dict[str, Any], sites: dict[str, Any], with_intake: list[str]) -> list[str]:
    """Where the service can be applied for online: a site offering it, or any site when the central MPP offers
    it (routing forwards it there with a booked slot)."""
    offered = set(service.get("sites", []))
    central = any(sites.get(s, {}).get("kind") == "central" for s in offered)
    return [s for s in with_intake if s in offered or (central and s in sites)]


# /ajukan/terkirim and /ajukan/verifikasi come before /ajukan/{code}, which would take them for service codes.
@public.get("/ajukan/terkirim")
async def online_sent(
    request: Request,
    ctx: Ctx,
    tempat: Annotated[str, Query(max_length=63)] = "",
    kode: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """The answer to an online submit (after its redirect): the tracking code, to keep."""
    site = (await ctx.sites.all()).get(tempat)
    if site is None or not domain.TRACKING_CODE_RE.match(kode):
        # Only what a submit redirected here: never a page showing any text someone put in a link.
        return render(request, "galat.html", 404, title="Tidak ditemukan", message="Halaman ini tidak ada.")
    return render(request, "terkirim.html", site=site, kode=domain.tracking_code(kode))


def sent_page(site: str, tracking_code: str) -> str:
    return "/ajukan/terkirim?" + urlencode({"tempat": site, "kode": tracking_code})


# Why the code step ended without a tracking code (status, what to tell the applicant).
VERIFICATION_ENDED = {
    "kedaluwarsa": (
        409,
        "Kode di SMS sudah tidak berlaku karena lewat waktunya. Permohonan tadi belum terkirim. "
        "Minta kode baru, atau ajukan lagi.",
    ),
    "terkunci": (
        409,
        "Kode yang dimasukkan sudah terlalu sering salah. Permohonan tadi belum terkirim. "
        "Ajukan lagi untuk mendapat kode baru.",
    ),
    "sudah": (
        409,
        "Nomor HP untuk permohonan ini sudah dipastikan sebelumnya: permohonan sudah terkirim.",
    ),
    "habis": (
        409,
        "Kode baru sudah terlalu sering diminta. Permohonan tadi belum terkirim. "
        "Ajukan lagi untuk mendapat kode baru.",
    ),
    "tidak-ada": (
        404,
        "Tidak ada permohonan yang menunggu kode di peramban ini, atau waktunya sudah habis. "
        "Ajukan permohonan dari daftar layanan.",
    ),
}


def verification_ended(request: Request, pending: PendingVerification | None, why: str) -> Response:
    status_code, message = VERIFICATION_ENDED[why]
    again = (
        f"/ajukan/{pending.service_code}?" + urlencode({"tempat": pending.site}) if pending else "/layanan"
    )
    # An expired code can be replaced by a new one (intake allows a few): the step stays open for that.
    resendable = why == "kedaluwarsa" and pending is not None
    response = render(
        request, "verifikasi.html", status_code, ended=message, again=again, resendable=resendable
    )
    if not resendable:
        forget_verification(request, response)
    return response


def forget_verification(request: Request, response: Response) -> None:
    settings = context(request).settings
    response.delete_cookie(
        VERIFICATION_COOKIE, path="/ajukan", secure=settings.cookie_secure, httponly=True, samesite="lax"
    )


@public.get("/ajukan/verifikasi")
async def code_form(request: Request, ctx: Ctx) -> Response:
    """Second step of an online application: the six digits texted to the applicant's phone."""
    pending = ctx.sessions.read_verification(request.cookies.get(VERIFICATION_COOKIE))
    if pending is None:
        return verification_ended(request, None, "tidak-ada")
    return render(request, "verifikasi.html", pending=pending)


@public.post("/ajukan/verifikasi")
async def verify_code(request: Request, ctx: Ctx, form: Form) -> Response:
    pending = ctx.sessions.read_verification(request.cookies.get(VERIFICATION_COOKIE))
    intake = ctx.intake(pending.site) if pending else None
    if pending is None or intake is None:
        return verification_ended(request, None, "tidak-ada")
    check = domain.check_sms_code(form)
    if not check.ok:
        return render(
            request, "verifikasi.html", 422, pending=pending, values=check.values, errors=check.errors
        )
    try:
        accepted = await intake.verify(
            pending.application_id, check.values["kode"], client=client_address(request)
        )
    except Refused as refused:
        return code_refused(request, pending, check.values, refused)
    response = see_other(sent_page(pending.site, accepted["tracking_code"]))
    forget_verification(request, response)
    return response


def code_refused(
    request: Request, pending: PendingVerification, values: dict[str, str], refused: Refused
) -> Response:
    """Intake's answer to a code that did not verify the application, as the code page says it."""
    if refused.status == 429:
        errors = {"kode": domain.too_many_requests(refused.retry_after_s)}
        page = render(request, "verifikasi.html", 429, pending=pending, values=values, errors=errors)
        return retry_later(page, refused)
    if refused.status == 422:
        left = domain.attempts_left(refused.fields)
        if left == 0:
            return verification_ended(request, pending, "terkunci")
        errors = {"kode": domain.wrong_code(left)}
        return render(request, "verifikasi.html", 422, pending=pending, values=values, errors=errors)
    if refused.status == 409:
        why = {"verification_expired": "kedaluwarsa", "already_verified": "sudah"}.get(
            refused.code, "terkunci"
        )
        return verification_ended(request, pending, why)
    if refused.status == 404:  # intake no longer has it (purged)
        return verification_ended(request, pending, "tidak-ada")
    raise refused


@public.post("/ajukan/verifikasi/kirim-ulang")
async def resend_code(request: Request, ctx: Ctx, form: Form) -> Response:
    """The applicant did not get the SMS, or the code expired or was mistyped too often: intake texts a new one
    (the old one stops working), a few times at most and not within a minute of the previous one."""
    pending = ctx.sessions.read_verification(request.cookies.get(VERIFICATION_COOKIE))
    intake = ctx.intake(pending.site) if pending else None
    if pending is None or intake is None:
        return verification_ended(request, None, "tidak-ada")
    try:
        await intake.resend_code(pending.application_id, client=client_address(request))
    except Refused as refused:
        if refused.status == 429:
            errors = {"kode": domain.resend_too_soon(refused.retry_after_s)}
            page = render(request, "verifikasi.html", 429, pending=pending, errors=errors)
            return retry_later(page, refused)
        if refused.status == 409:
            why = {"resends_exhausted": "habis"}.get(refused.code, "sudah")
            return verification_ended(request, pending, why)
        if refused.status == 404:
            return verification_ended(request, pending, "tidak-ada")
        raise
    return render(request, "verifikasi.html", pending=pending, resent=True)


@public.get("/ajukan/{code}")
async def online_form(request: Request, ctx: Ctx, code: ServiceCode, tempat: str = "") -> Response:
    """The online application's form. Steps: this form; the page asking for the code texted to the phone
    (`/ajukan/verifikasi`); the tracking code (`/ajukan/terkirim`)."""
    return await _online_form(request, ctx, code, values={"tempat": tempat, "sms": "1"})


@public.post("/ajukan/{code}")
async def online_submit(request: Request, ctx: Ctx, code: ServiceCode, form: Form) -> Response:
    check = domain.check_applicant(form)
    check.values.update(tempat=form.get("tempat", ""), sms=form.get("sms", ""))
    intake = ctx.intake(form.get("tempat", ""))
    if intake is None:
        check.refuse("tempat", "Pilih tempat pelayanan.")
    provided = checked_list(request, "persyaratan")
    if not check.ok or intake is None:
        return await _online_form(
            request, ctx, code, 422, values=check.values, errors=check.errors, provided=provided
        )
    service = await ctx.catalog.service(code.upper())
    body = application_body(service, check.values, provided, channel="online", sms=bool(form.get("sms")))
    try:
        accepted = await intake.submit(
            body, form.get("kunci") or uuid.uuid4().hex, client=client_address(request)
        )
    except Refused as refused:
        if refused.status == 429:
            errors = {"umum": domain.too_many_requests(refused.retry_after_s)}
            page = await _online_form(
                request, ctx, code, 429, values=check.values, errors=errors, provided=provided
            )
            return retry_later(page, refused)
        if refused.status != 422:
            raise
        errors = domain.intake_problems(refused.fields)
        return await _online_form(
            request, ctx, code, 422, values=check.values, errors=errors, provided=provided
        )
    if accepted["status"] != "awaiting_verification":
        return see_other(sent_page(intake.site, accepted["tracking_code"]))
    # Intake texted a code to the phone: the code page knows which application from a signed cookie only.
    pending = PendingVerification(
        application_id=str(accepted["application_id"]),
        site=intake.site,
        service_code=service["code"],
        phone_last4=check.values["hp"].replace(" ", "").replace("-", "")[-4:],
    )
    response = see_other("/ajukan/verifikasi")
    set_cookie(
        ctx,
        response,
        VERIFICATION_COOKIE,
        ctx.sessions.issue_verification(pending),
        VERIFICATION_TTL_S,
        path="/ajukan",
    )
    return response


@public.get("/lacak")
async def tracking_form(request: Request, kode: Annotated[str, Query(max_length=12)] = "") -> Response:
    return render(request, "lacak.html", values={"kode": kode})


@public.post("/lacak")
async def track(request: Request, ctx: Ctx, form: Form) -> Response:
    """Tracking code + the phone's last four digits (a POST: the digits stay out of addresses and logs). The code
    does not say the site: every site's intake is asked; a forwarded application, known at its origin and at the
    central site, is shown as one (the freshest status, both histories)."""
    check = domain.check_tracking(form)
    if not check.ok:
        return render(request, "lacak.html", 422, values=check.values, errors=check.errors)
    code = domain.tracking_code(check.values["kode"])

    async def ask(intake: Intake) -> dict[str, Any] | Unavailable | Refused | None:
        try:
            return await intake.track(code, check.values["hp4"], client=client_address(request))
        except Refused as refused:
            return refused if refused.status == 429 else None
        except Unavailable as away:  # one site away must not hide an application another site knows
            return away

    asked = await asyncio.gather(*(ask(i) for i in ctx.intakes.values()))
    answers = [a for a in asked if isinstance(a, dict)]
    limited = [a for a in asked if isinstance(a, Refused)]
    if not answers and limited:  # a site that could know it said "later": not "no such application"
        slowest = max(limited, key=lambda refused: refused.retry_after_s)
        errors = {"kode": domain.too_many_requests(slowest.retry_after_s)}
        page = render(request, "lacak.html", 429, values=check.values, errors=errors)
        return retry_later(page, slowest)
    if not answers and any(isinstance(a, Unavailable) for a in asked):
        raise next(a for a in asked if isinstance(a, Unavailable))
    if not answers:
        errors = {"kode": "Kode lacak dan 4 angka terakhir HP tidak cocok dengan permohonan mana pun."}
        return render(request, "lacak.html", 404, values=check.values, errors=errors)
    found = domain.merge_tracking(answers)
    time_zone = await ctx.sites.time_zone(found["site_id"])
    return render(
        request,
        "lacak.html",
        values=check.values,
        found=found,
        tz=time_zone,
        site=await ctx.sites.get(found["site_id"]),
        survey=domain.survey_offer(answers),
    )


# ---- the satisfaction survey (SKM), after a completed application -------------------------------------------------
# Reached from tracking's answer only: the tracking code, the phone's last digits and the site travel as hidden
# fields of POSTed forms (never in an address), and intake checks them again with the answers, under tracking's
# limits and lock. Under /lacak: the pages are not cached (SecurityHeaders).


def survey_proof(ctx: Ctx, form: dict[str, str]) -> tuple[domain.FormCheck, Intake | None]:
    """The tracking code and digits tracking was given, and the site whose intake holds the survey."""
    proof = domain.check_tracking(form)
    proof.values["tempat"] = form.get("tempat", "")
    return proof, ctx.intake(proof.values["tempat"])


def survey_lost(request: Request) -> Response:
    message = (
        "Survei dibuka dari halaman Lacak permohonan, setelah permohonan Anda selesai. "
        "Lacak lagi permohonan Anda."
    )
    return render(request, "galat.html", 422, title="Survei tidak dapat dibuka", message=message)


async def survey_page(
    request: Request,
    ctx: Ctx,
    proof: dict[str, str],
    status_code: int = 200,
    **values: Any,
) -> Response:
    site = await ctx.sites.get(proof["tempat"])
    return render(
        request,
        "survei.html",
        status_code,
        proof={**proof, "kode": domain.tracking_code(proof["kode"])},
        site=site,
        questions=domain.SURVEY_QUESTIONS,
        saran_max=domain.SUGGESTION_MAX_CHARS,
        **values,
    )


@public.get("/lacak/survei")
async def survey_without_tracking() -> Response:
    """The survey starts from tracking (which proves the application is the visitor's)."""
    return see_other("/lacak")


@public.post("/lacak/survei")
async def survey_form(request: Request, ctx: Ctx, form: Form) -> Response:
    """The nine questions, from tracking's button "Isi Survei Kepuasan"."""
    proof, intake = survey_proof(ctx, form)
    if not proof.ok or intake is None:
        return survey_lost(request)
    return await survey_page(request, ctx, proof.values)


# Intake's refusals of a survey, as the survey page says them (status, message).
SURVEY_REFUSED = {
    404: "Kode lacak dan 4 angka terakhir HP tidak cocok dengan permohonan mana pun. Lacak lagi permohonan Anda.",
    409: "Survei baru dapat diisi setelah permohonan selesai dan dokumen sudah Anda terima.",
    422: "Jawaban belum dapat diterima. Periksa kembali, lalu kirim lagi.",
}


@public.post("/lacak/survei/kirim")
async def survey_answer(request: Request, ctx: Ctx, form: Form) -> Response:
    proof, intake = survey_proof(ctx, form)
    if not proof.ok or intake is None:
        return survey_lost(request)
    check = domain.check_survey(form)
    if not check.ok:
        return await survey_page(request, ctx, proof.values, 422, values=check.values, errors=check.errors)
    try:
        await intake.answer_survey(
            domain.tracking_code(proof.values["kode"]),
            proof.values["hp4"],
            domain.survey_body(check.values),
            client=client_address(request),
        )
    except Refused as refused:
        # Answered already (a double click, a reload, or earlier): the answers are in, as the applicant wanted.
        if refused.status == 409 and refused.code == "survey_done":
            return see_other("/lacak/survei/terima-kasih")
        if refused.status == 429:
            errors = {"umum": domain.too_many_requests(refused.retry_after_s)}
            page = await survey_page(request, ctx, proof.values, 429, values=check.values, errors=errors)
            return retry_later(page, refused)
        if refused.status not in SURVEY_REFUSED:
            raise
        errors = {"umum": SURVEY_REFUSED[refused.status]}
        return await survey_page(
            request, ctx, proof.values, refused.status, values=check.values, errors=errors
        )
    return see_other("/lacak/survei/terima-kasih")


@public.get("/lacak/survei/terima-kasih")
async def survey_thanks(request: Request) -> Response:
    return render(request, "survei_terima_kasih.html")


# ---- login ------------------------------------------------------------------------------------------------------


def _next_page(value: str) -> str:
    """Back to the console page that asked for the login; never to another site (open redirect)."""
    return value if value.startswith("/konter") and "//" not in value and "\\" not in value else "/konter"


@login.get("/masuk")
async def login_form(request: Request, lanjut: Annotated[str, Query(max_length=300)] = "") -> Response:
    return render(request, "masuk.html", values={"lanjut": _next_page(lanjut)})


@login.post("/masuk")
async def log_in(request: Request, ctx: Ctx, form: Form) -> Response:
    username, password = form.get("pengguna", ""), form.get("sandi", "")
    values = {"pengguna": username, "lanjut": _next_page(form.get("lanjut", ""))}
    errors = {}
    if not username.strip():
        errors["pengguna"] = "Nama pengguna wajib diisi."
    if not password:
        errors["sandi"] = "Kata sandi wajib diisi."
    if not errors and ctx.logins.blocked(username):
        errors["sandi"] = (
            "Terlalu banyak percobaan yang salah. Coba lagi 15 menit lagi, atau hubungi supervisor."
        )
        return render(request, "masuk.html", 429, values=values, errors=errors)
    # argon2 takes tens of milliseconds of CPU by design: off the event loop.
    account = (
        await run_in_threadpool(accounts.authenticate, ctx.accounts, username, password)
        if not errors
        else None
    )
    if account is None:
        if not errors:
            ctx.logins.failed(username)
        errors = errors or {"sandi": "Nama pengguna atau kata sandi salah."}
        return render(request, "masuk.html", 401, values=values, errors=errors)
    ctx.logins.succeeded(username)
    response = see_other(values["lanjut"])
    set_cookie(ctx, response, SESSION_COOKIE, ctx.sessions.issue(account), ctx.settings.session_ttl_s)
    return response


@login.post("/keluar")
async def log_out(ctx: Ctx, form: Form) -> Response:
    response = see_other("/masuk")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=ctx.settings.cookie_secure, httponly=True)
    return response


# ---- counter console ----------------------------------------------------------------------------------------------


def token(ctx: Ctx, operator: Operator) -> str:
    return ctx.intake_tokens.mint(operator)


@counter.get("")
async def queue(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    hari: date | None = None,
    status: Annotated[str, Query(max_length=20)] = "",
    instansi: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """Today's queue at the operator's site: tickets, status, agency; filters and a search box."""
    time_zone = await ctx.sites.time_zone(operator.site)
    day = hari or domain.today(time_zone)
    agency = instansi.strip().upper()
    errors = {}
    rows: list[dict[str, Any]] = []
    if agency and not domain.AGENCY_CODE_RE.match(agency):
        errors["instansi"] = "Tulis kode instansi, misalnya DUKCAPIL atau IMIGRASI."
    else:
        rows = await intake.operator_get(
            token(ctx, operator),
            "/queue",
            day=day.isoformat(),
            status=status if status in domain.STATUS_LABELS else None,
            agency_code=agency or None,
        )
    return render(
        request,
        "antrean.html",
        422 if errors else 200,
        errors=errors,
        rows=rows,
        day=day,
        tz=time_zone,
        values={"status": status, "instansi": instansi},
        site=await ctx.sites.get(operator.site),
    )


@counter.get("/cari")
async def search(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    q: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    """By tracking code, today's ticket or part of the name."""
    errors = {}
    rows: list[dict[str, Any]] = []
    if len(q.strip()) < 2:
        errors["q"] = "Tulis paling sedikit 2 huruf: kode lacak, nomor antrean atau nama."
    else:
        rows = await intake.operator_get(token(ctx, operator), "/search", q=q.strip())
    return render(
        request,
        "cari.html",
        200 if not errors else 422,
        rows=rows,
        values={"q": q},
        errors=errors,
        tz=await ctx.sites.time_zone(operator.site),
    )


@counter.get("/baru")
async def new_application(
    request: Request, ctx: Ctx, operator: OperatorOf, q: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    """Find the service by what the applicant says. Not filtered by the site: a service only the central MPP
    gives is applied for here too (routing books the slot there)."""
    found = await ctx.catalog.search(q, limit=15) if q.strip() else None
    return render(request, "baru.html", q=q, found=found)


async def _counter_form(
    request: Request, ctx: Ctx, operator: Operator, code: str, status_code: int = 200, **values: Any
) -> Response:
    service = await ctx.catalog.service(code.upper())
    here = operator.site in service.get("sites", [])
    return render(request, "baru_form.html", status_code, service=service, here=here, **values)


@counter.get("/baru/{code}")
async def new_application_form(
    request: Request, ctx: Ctx, operator: OperatorOf, code: ServiceCode
) -> Response:
    """The service's standar pelayanan in short, its requirements checklist, and the applicant."""
    return await _counter_form(request, ctx, operator, code, values={"sms": "1"})


@counter.post("/baru/{code}")
async def submit_at_counter(
    request: Request, ctx: Ctx, operator: OperatorOf, intake: IntakeOf, code: ServiceCode, form: Form
) -> Response:
    check = domain.check_applicant(form)
    check.values.update(sms=form.get("sms", ""), lengkap=form.get("lengkap", ""))
    provided = checked_list(request, "persyaratan")
    if not check.ok:
        return await _counter_form(
            request, ctx, operator, code, 422, values=check.values, errors=check.errors, provided=provided
        )
    service = await ctx.catalog.service(code.upper())
    body = application_body(service, check.values, provided, channel="counter", sms=bool(form.get("sms")))
    body["accept_incomplete"] = bool(form.get("lengkap"))
    try:
        accepted = await intake.submit(
            body, form.get("kunci") or uuid.uuid4().hex, token=token(ctx, operator)
        )
    except Refused as refused:
        if refused.status != 422:
            raise
        errors = domain.intake_problems(refused.fields)
        return await _counter_form(
            request, ctx, operator, code, 422, values=check.values, errors=errors, provided=provided
        )
    return see_other(f"/konter/permohonan/{accepted['application_id']}?pesan=terkirim")


def application_body(
    service: dict[str, Any], values: dict[str, str], provided: list[str], *, channel: str, sms: bool
) -> dict[str, Any]:
    """Intake's submit body: the applicant, and the service's whole checklist with what was provided."""
    ticked = set(provided)
    checklist = [
        {
            "requirement": requirement["name"],
            "provided": requirement["form"] if requirement["name"] in ticked else None,
        }
        for requirement in service.get("requirements", [])
    ]
    return {
        "service_code": service["code"],
        "channel": channel,
        "applicant": {"name": values["nama"], "nik": values["nik"].replace(" ", ""), "phone": values["hp"]},
        "sms_consent": sms,
        "checklist": checklist,
    }


async def _application_page(
    request: Request,
    ctx: Ctx,
    operator: Operator,
    intake: Intake,
    application_id: UUID,
    status_code: int = 200,
    **values: Any,
) -> Response:
    application = await intake.operator_get(token(ctx, operator), f"/applications/{application_id}")
    site = await ctx.sites.get(operator.site)
    return render(
        request,
        "permohonan.html",
        status_code,
        app=application,
        tz=await ctx.sites.time_zone(operator.site),
        site=site,
        actions=domain.actions(operator.role, application),
        next_step=domain.OPERATOR_NEXT.get(application["status"], ""),
        **values,
    )


@counter.get("/permohonan/{application_id}")
async def application(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    pesan: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One application: ticket and tracking code (printable), history, next step, and what may be done now."""
    return await _application_page(request, ctx, operator, intake, application_id, notice=NOTICES.get(pesan))


async def _act(
    request: Request,
    ctx: Ctx,
    operator: Operator,
    intake: Intake,
    application_id: UUID,
    path: str,
    body: dict[str, Any] | None,
    done: str,
    reached: set[str],
) -> Response:
    """One operator action, then back to the application. A repeat (double click, reload) that intake refuses
    because the application already is where the action leads counts as done."""
    try:
        await intake.operator_post(token(ctx, operator), f"/applications/{application_id}{path}", body)
    except Refused as refused:
        if refused.status == 403:  # intake holds the operator to their role too (a role changed since login)
            raise NotAllowed from refused
        if refused.status == 409:
            current = await intake.operator_get(token(ctx, operator), f"/applications/{application_id}")
            done = done if current["status"] in reached else "konflik"
        elif refused.status == 422:
            errors = {"umum": "Data belum dapat diterima. Periksa kembali."}
            return await _application_page(request, ctx, operator, intake, application_id, 422, errors=errors)
        else:
            raise
    return see_other(f"/konter/permohonan/{application_id}?pesan={done}")


@counter.post("/permohonan/{application_id}/status")
async def change_status(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
) -> Response:
    target = form.get("status", "")
    note = form.get("catatan", "")
    problem = domain.check_note(note, required=target == "rejected")
    if target not in ("in_progress", "ready_for_pickup", "completed", "rejected"):
        problem = "Pilih status baru."
    if problem:
        values = {"status": target, "catatan": note}
        return await _application_page(
            request, ctx, operator, intake, application_id, 422, errors={"catatan": problem}, values=values
        )
    body = {"status": target, **({"note": note.strip()} if note.strip() else {})}
    return await _act(request, ctx, operator, intake, application_id, "/status", body, "diubah", {target})


@counter.post("/permohonan/{application_id}/siap")
async def mark_ready(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
) -> Response:
    reached = {"ready_for_pickup", "sent_to_origin"}
    return await _act(request, ctx, operator, intake, application_id, "/ready", None, "siap", reached)


@counter.post("/permohonan/{application_id}/hadir")
async def check_in(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
) -> Response:
    return await _act(
        request, ctx, operator, intake, application_id, "/check-in", None, "hadir", {"checked_in"}
    )


@counter.post("/permohonan/{application_id}/batal")
async def cancel(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
) -> Response:
    check = functools.partial(domain.check_note, required=True)
    page = ReasonedAction("alasan", check, "/cancel", "batal", frozenset({"cancelled"}))
    return await _supervisor_action(request, ctx, operator, intake, application_id, form, page)


@counter.post("/permohonan/{application_id}/hapus-data")
async def erase(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
) -> Response:
    """The applicant asked for their personal data to be erased (UU 27/2022): a supervisor's, for a closed
    application; the name, NIK and phone go, the history keeps who did it and why."""
    page = ReasonedAction("alasan_hapus", domain.check_erasure_reason, "/erase", "dihapus", frozenset())
    return await _supervisor_action(request, ctx, operator, intake, application_id, form, page)


@dataclass(frozen=True)
class ReasonedAction:
    """A supervisor's action that needs a written reason: the form field, its check, intake's path, the notice
    shown after it and the statuses it may end in."""

    field: str
    check: Callable[[str], str | None]
    path: str
    notice: str
    ends_in: frozenset[str]


async def _supervisor_action(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
    action: ReasonedAction,
) -> Response:
    if operator.role != "supervisor":
        raise NotAllowed
    reason = form.get(action.field, "")
    problem = action.check(reason)
    if problem:
        return await _application_page(
            request,
            ctx,
            operator,
            intake,
            application_id,
            422,
            errors={action.field: problem},
            values={action.field: reason},
        )
    body = {"reason": reason.strip()}
    return await _act(
        request, ctx, operator, intake, application_id, action.path, body, action.notice, set(action.ends_in)
    )


@counter.post("/permohonan/{application_id}/jadwal-ulang")
async def reschedule(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    application_id: ApplicationId,
    form: Form,
) -> Response:
    typed = form.get("mulai", "").strip()
    values = {"mulai": typed, "alasan_jadwal": form.get("alasan_jadwal", "")}
    body: dict[str, Any] = {}
    try:
        if typed:
            body["not_before"] = date.fromisoformat(typed).isoformat()
    except ValueError:
        errors = {"mulai": "Tanggal tidak dikenali. Pilih tanggal, misalnya 2026-12-07."}
        return await _application_page(
            request, ctx, operator, intake, application_id, 422, errors=errors, values=values
        )
    reason = values["alasan_jadwal"].strip()
    if reason:
        if problem := domain.check_note(reason, required=False):
            errors = {"alasan_jadwal": problem}
            return await _application_page(
                request, ctx, operator, intake, application_id, 422, errors=errors, values=values
            )
        body["reason"] = reason
    return await _act(request, ctx, operator, intake, application_id, "/reschedule", body, "jadwal", set())


@counter.get("/kedatangan")
async def arrivals(
    request: Request, ctx: Ctx, operator: OperatorOf, intake: IntakeOf, hari: date | None = None
) -> Response:
    """At the central site: the day's expected arrivals (forwarded from the Mini MPPs) and their check-in."""
    time_zone = await ctx.sites.time_zone(operator.site)
    day = hari or domain.today(time_zone)
    rows = await intake.operator_get(token(ctx, operator), "/arrivals", day=day.isoformat())
    return render(request, "kedatangan.html", rows=rows, day=day, tz=time_zone)


@counter.get("/siap-diambil")
async def pickups(request: Request, ctx: Ctx, operator: OperatorOf, intake: IntakeOf) -> Response:
    """Results waiting for pickup at the site, however long ago they were submitted: the longest waiting first."""
    time_zone = await ctx.sites.time_zone(operator.site)
    rows = await intake.operator_get(token(ctx, operator), "/pickups")
    return render(request, "siap.html", rows=rows, tz=time_zone)


@counter.get("/survei")
async def survey_summary(
    request: Request,
    ctx: Ctx,
    operator: OperatorOf,
    intake: IntakeOf,
    dari: Annotated[str, Query(max_length=10)] = "",
    sampai: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """The site's satisfaction index (IKM, SKM of PermenPANRB 14/2017): operators and supervisors of the site."""
    check = domain.check_period(dari, sampai)
    summary, days = None, {}
    if check.ok:
        period = {"from": check.values["dari"] or None, "to": check.values["sampai"] or None}
        try:
            summary = await intake.operator_get(token(ctx, operator), "/surveys/summary", **period)
        except Refused as refused:
            if refused.status != 422:
                raise
            for problem in refused.fields:  # a day intake does not count (before 2000, say)
                name = "sampai" if problem.get("field") == "to" else "dari"
                check.refuse(name, "Tanggal di luar jangkauan. Pilih tanggal lain.")
            if check.ok:  # refused without a field: said on the first
                check.refuse("dari", "Tanggal di luar jangkauan. Pilih tanggal lain.")
    if summary is not None:
        # The days intake counted (its defaults when none were chosen), shown in the form and the heading.
        check.values.update(dari=summary["first_day"], sampai=summary["last_day"])
        days = {
            "first_day": date.fromisoformat(summary["first_day"]),
            "last_day": date.fromisoformat(summary["last_day"]),
        }
    return render(
        request,
        "survei_ringkasan.html",
        200 if check.ok else 422,
        index=summary,
        values=check.values,
        errors=check.errors,
        site=await ctx.sites.get(operator.site),
        **days,
    )
