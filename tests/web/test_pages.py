"""The web's pages against fakes of the catalogue and intake: what a person sees and what reaches intake."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.web.conftest import KEY_RE, csrf_of, log_in
from tests.web.fakes import Upstream
from web import domain
from web.accounts import LoginThrottle

APPLICANT = {"nama": "Siti Aminah", "nik": "6402024101900001", "hp": "0812-3456-0001"}


def submit_at_counter(
    web: TestClient, code: str = "DUKCAPIL-AKTA-LAHIR", **fields: str
) -> tuple[str, httpx.Response]:
    form = web.get(f"/konter/baru/{code}")
    assert form.status_code == 200
    data = {
        "csrf": csrf_of(form.text),
        "kunci": KEY_RE.search(form.text).group(1),  # type: ignore[union-attr]
        "persyaratan": ["KTP-el", "Kartu Keluarga"],
        "sms": "1",
        **APPLICANT,
        **fields,
    }
    return form.text, web.post(f"/konter/baru/{code}", data=data)


def apply_online(web: TestClient, code: str = "IMIGRASI-PASPOR-BARU", site: str = "tabang") -> httpx.Response:
    """The online form sent, as far as the page asking for the SMS code (its redirect)."""
    form = web.get(f"/ajukan/{code}")
    data = {
        "csrf": csrf_of(form.text),
        "kunci": KEY_RE.search(form.text).group(1),  # type: ignore[union-attr]
        "tempat": site,
        "persyaratan": ["KTP-el", "Kartu Keluarga"],
        "sms": "1",
        **APPLICANT,
    }
    return web.post(f"/ajukan/{code}", data=data)


def enter_code(web: TestClient, code: str) -> httpx.Response:
    page = web.get("/ajukan/verifikasi")
    return web.post("/ajukan/verifikasi", data={"csrf": csrf_of(page.text), "kode": code})


def tracking_code_of(page: str) -> str:
    return re.search(r'class="kode">([^<]+)<', page).group(1)  # type: ignore[union-attr]


# ---- the public portal ------------------------------------------------------------------------------------------


def test_home_and_catalogue_search_in_bahasa_indonesia(web: TestClient) -> None:
    home = web.get("/")
    assert home.status_code == 200
    assert '<html lang="id">' in home.text and "Cari layanan" in home.text
    found = web.get("/layanan", params={"q": "akta lahir"})
    assert "Penerbitan Akta Kelahiran" in found.text and "1 layanan cocok" in found.text


def test_standar_pelayanan_shows_every_element(web: TestClient) -> None:
    page = web.get("/layanan/IMIGRASI-PASPOR-BARU").text
    for heading in (
        "Persyaratan",
        "Prosedur",
        "Waktu penyelesaian",
        "Biaya",
        "Produk layanan",
        "Dasar hukum",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "Rp350.000" in page and "PP 28/2019" in page and "Pengaduan" in page
    assert "diproses di MPP Kukar Tenggarong" in page and 'href="/ajukan/IMIGRASI-PASPOR-BARU"' in page


def test_unknown_service_is_a_page_not_json(web: TestClient) -> None:
    answer = web.get("/layanan/TIDAK-ADA")
    assert answer.status_code == 404 and "Tidak ditemukan" in answer.text


def test_online_application_keeps_what_was_typed_and_marks_the_field(
    web: TestClient, upstream: Upstream
) -> None:
    form = web.get("/ajukan/IMIGRASI-PASPOR-BARU")
    # A central-only service can be applied for at any site: routing forwards it.
    assert 'value="tabang"' in form.text and 'value="loa-kulu"' in form.text
    data = {
        "csrf": csrf_of(form.text),
        "tempat": "tabang",
        "nama": "Siti",
        "nik": "12345",
        "hp": "0812-3456-0001",
    }
    answer = web.post("/ajukan/IMIGRASI-PASPOR-BARU", data=data)
    assert answer.status_code == 422
    assert "NIK harus 16 angka; yang diisi 5 angka." in answer.text
    assert 'id="f-nik" name="nik" value="12345"' in answer.text and 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="p-nik g-nik"' in answer.text and 'href="#f-nik"' in answer.text
    assert 'value="Siti"' in answer.text
    assert upstream.intakes["tabang"].submits == 0


def test_intakes_refusal_is_shown_on_the_field_in_bahasa_indonesia(web: TestClient) -> None:
    form = web.get("/ajukan/IMIGRASI-PASPOR-BARU")
    data = {
        "csrf": csrf_of(form.text),
        "tempat": "tabang",
        "persyaratan": ["KTP-el", "Kartu Keluarga"],
        **APPLICANT,
        "nik": "0002024101900001",  # a province code that does not exist: intake refuses it
    }
    answer = web.post("/ajukan/IMIGRASI-PASPOR-BARU", data=data)
    assert answer.status_code == 422 and "NIK tidak sah" in answer.text


def test_online_application_then_its_sms_code_then_tracking_shows_the_appointment(
    web: TestClient, upstream: Upstream
) -> None:
    tabang = upstream.intakes["tabang"]
    form = web.get("/ajukan/IMIGRASI-PASPOR-BARU")
    key = KEY_RE.search(form.text).group(1)  # type: ignore[union-attr]
    data = {
        "csrf": csrf_of(form.text),
        "kunci": key,
        "tempat": "tabang",
        "persyaratan": ["KTP-el", "Kartu Keluarga"],
        "sms": "1",
        **APPLICANT,
    }
    first = web.post("/ajukan/IMIGRASI-PASPOR-BARU", data=data)
    again = web.post("/ajukan/IMIGRASI-PASPOR-BARU", data=data)  # a double click: the same key
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == "/ajukan/verifikasi"
    assert tabang.submits == 1
    cookie = first.headers["set-cookie"].lower()
    assert "mpp_verifikasi=" in cookie and "httponly" in cookie and "path=/ajukan" in cookie
    application = next(iter(tabang.applications.values()))
    assert application["status"] == "awaiting_verification" and application["queue_ticket"] is None

    page = web.get("/ajukan/verifikasi")
    assert page.status_code == 200 and "<h1>Masukkan kode dari SMS</h1>" in page.text
    assert "berakhiran <strong>0001</strong>" in page.text
    assert 'inputmode="numeric"' in page.text and 'autocomplete="one-time-code"' in page.text
    assert application["application_id"] not in page.text  # only in the signed cookie

    typo = enter_code(web, "12a456")  # refused here: intake is not asked
    assert typo.status_code == 422 and "Kode terdiri dari 6 angka" in typo.text
    assert ("POST", f"/applications/{application['application_id']}/verify") not in tabang.calls
    right = tabang.sms[APPLICANT["hp"]]
    wrong = enter_code(web, "000000" if right != "000000" else "111111")
    assert wrong.status_code == 422
    assert "Kode salah" in wrong.text and "sisa percobaan: 2 kali" in wrong.text
    assert 'aria-invalid="true"' in wrong.text and 'aria-describedby="p-kode g-kode"' in wrong.text
    done = enter_code(web, f"{right[:3]} {right[3:]}")  # typed with a space: still the six digits
    assert done.status_code == 303 and done.headers["location"].startswith("/ajukan/terkirim?")
    assert 'mpp_verifikasi=""' in done.headers["set-cookie"]  # the step is over
    assert application["status"] == "forwarded"
    sent = web.get(done.headers["location"])
    code = tracking_code_of(sent.text)
    assert code == application["tracking_code"] and "Mini MPP Kecamatan Tabang" in sent.text
    assert set(tabang.forwarded_for) == {"testclient"}  # the person's address, not the web's

    page = web.get("/lacak")
    wrong = web.post("/lacak", data={"csrf": csrf_of(page.text), "kode": code, "hp4": "9999"})
    assert wrong.status_code == 404 and "tidak cocok" in wrong.text
    found = web.post("/lacak", data={"csrf": csrf_of(page.text), "kode": code.lower(), "hp4": "0001"})
    assert found.status_code == 200
    assert "Diteruskan ke MPP pusat" in found.text and "Jadwal kedatangan" in found.text
    assert " pukul 09.30 WITA" in found.text  # 01:30 UTC is 09:30 in Kutai Kartanegara
    assert ("POST", "/applications/track") in tabang.calls
    assert not any(path.startswith("/applications/track/") for _, path in tabang.calls)


def test_too_many_wrong_codes_end_the_step_with_a_way_to_apply_again(
    web: TestClient, upstream: Upstream
) -> None:
    tabang = upstream.intakes["tabang"]
    assert apply_online(web).status_code == 303
    right = tabang.sms[APPLICANT["hp"]]
    wrong = "000000" if right != "000000" else "111111"
    assert "sisa percobaan: 1 kali" in enter_code(web, wrong).text + enter_code(web, wrong).text
    locked = enter_code(web, wrong)  # the last attempt
    assert locked.status_code == 409 and "terlalu sering salah" in locked.text
    assert 'href="/ajukan/IMIGRASI-PASPOR-BARU?tempat=tabang"' in locked.text and "Ajukan lagi" in locked.text
    assert 'mpp_verifikasi=""' in locked.headers["set-cookie"]
    after = web.get("/ajukan/verifikasi")
    assert after.status_code == 404 and 'href="/layanan"' in after.text
    assert next(iter(tabang.applications.values()))["status"] == "awaiting_verification"


def test_an_expired_code_says_so_and_offers_to_apply_again(web: TestClient, upstream: Upstream) -> None:
    tabang = upstream.intakes["tabang"]
    apply_online(web, code="DUKCAPIL-AKTA-LAHIR")
    next(iter(tabang.verifications.values()))["expired"] = True
    expired = enter_code(web, tabang.sms[APPLICANT["hp"]])
    assert expired.status_code == 409 and "sudah tidak berlaku" in expired.text
    assert 'href="/ajukan/DUKCAPIL-AKTA-LAHIR?tempat=tabang"' in expired.text


def test_the_code_step_trusts_only_its_signed_cookie(web: TestClient, upstream: Upstream) -> None:
    assert web.get("/ajukan/verifikasi").status_code == 404
    apply_online(web)
    web.cookies.set("mpp_verifikasi", web.cookies["mpp_verifikasi"][:-3] + "abc", path="/ajukan")
    page = web.get("/ajukan/verifikasi")
    assert page.status_code == 404 and "Tidak ada permohonan yang menunggu kode" in page.text
    csrf = csrf_of(web.get("/lacak").text)
    sent = web.post("/ajukan/verifikasi", data={"csrf": csrf, "kode": "123456"})
    assert sent.status_code == 404
    assert not any(path.endswith("/verify") for _, path in upstream.intakes["tabang"].calls)


def test_intakes_rate_limit_is_a_message_with_the_wait_never_a_500(
    web: TestClient, upstream: Upstream
) -> None:
    tabang = upstream.intakes["tabang"]
    tabang.limited["submit"] = 42
    refused = apply_online(web)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "42"
    assert "Terlalu banyak permintaan, coba lagi dalam 42 detik." in refused.text
    assert 'value="Siti Aminah"' in refused.text  # what was typed stays

    del tabang.limited["submit"]
    apply_online(web)
    tabang.limited["verify"] = 7
    slowed = enter_code(web, tabang.sms[APPLICANT["hp"]])
    assert slowed.status_code == 429 and "coba lagi dalam 7 detik" in slowed.text
    del tabang.limited["verify"]
    code = tracking_code_of(web.get(enter_code(web, tabang.sms[APPLICANT["hp"]]).headers["location"]).text)

    for intake in upstream.intakes.values():
        intake.limited["track"] = 30
    page = web.get("/lacak")
    data = {"csrf": csrf_of(page.text), "kode": code, "hp4": "0001"}
    limited = web.post("/lacak", data=data)
    assert limited.status_code == 429 and "coba lagi dalam 30 detik" in limited.text
    del upstream.intakes["mpp-tenggarong"].limited["track"]  # a site that knows nothing answers 404
    assert web.post("/lacak", data=data).status_code == 429
    del tabang.limited["track"]
    assert web.post("/lacak", data=data).status_code == 200


def test_counter_submit_carries_the_operators_token(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "op-loa-kulu")
    _, answer = submit_at_counter(web)
    assert answer.status_code == 303
    assert upstream.intakes["loa-kulu"].forwarded_for == [None]  # an operator is not rate limited by address


def test_a_form_without_its_csrf_field_is_refused(web: TestClient, upstream: Upstream) -> None:
    web.get("/")
    answer = web.post("/ajukan/IMIGRASI-PASPOR-BARU", data={"tempat": "tabang", **APPLICANT})
    assert answer.status_code == 403 and "kedaluwarsa" in answer.text
    assert upstream.intakes["tabang"].submits == 0


def test_cookies_are_secure_httponly_and_samesite(web: TestClient) -> None:
    page = web.get("/masuk")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


# ---- login ----------------------------------------------------------------------------------------------------


def test_console_needs_a_login_and_comes_back_after_it(web: TestClient) -> None:
    answer = web.get("/konter/baru?q=akta")
    assert (
        answer.status_code == 303
        and answer.headers["location"] == "/masuk?lanjut=%2Fkonter%2Fbaru%3Fq%3Dakta"
    )
    page = web.get(answer.headers["location"])
    logged = web.post(
        "/masuk",
        data={
            "csrf": csrf_of(page.text),
            "pengguna": "op-loa-kulu",
            "sandi": "rahasia-op-loa-kulu",
            "lanjut": "/konter/baru?q=akta",
        },
    )
    assert logged.status_code == 303 and logged.headers["location"] == "/konter/baru?q=akta"
    assert "httponly" in logged.headers["set-cookie"].lower()


def test_wrong_password_is_one_message_and_the_username_is_kept(web: TestClient) -> None:
    page = web.get("/masuk")
    answer = web.post(
        "/masuk", data={"csrf": csrf_of(page.text), "pengguna": "op-loa-kulu", "sandi": "salah"}
    )
    assert answer.status_code == 401 and "Nama pengguna atau kata sandi salah." in answer.text
    assert 'value="op-loa-kulu"' in answer.text
    unknown = web.post("/masuk", data={"csrf": csrf_of(page.text), "pengguna": "siapa", "sandi": "salah"})
    assert unknown.status_code == 401 and "Nama pengguna atau kata sandi salah." in unknown.text


def test_login_never_redirects_to_another_site(web: TestClient) -> None:
    page = web.get("/masuk")
    data = {"csrf": csrf_of(page.text), "pengguna": "op-tabang", "sandi": "rahasia-op-tabang"}
    answer = web.post("/masuk", data={**data, "lanjut": "//evil.example/konter"})
    assert answer.headers["location"] == "/konter"


def test_log_out_ends_the_session(web: TestClient) -> None:
    log_in(web, "op-tabang")
    page = web.get("/konter")
    assert page.status_code == 200
    out = web.post("/keluar", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert web.get("/konter").status_code == 303


# ---- the counter console ----------------------------------------------------------------------------------------


def test_counter_application_from_search_to_ticket(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "op-loa-kulu")
    found = web.get("/konter/baru", params={"q": "bikin akta lahir anak"})
    assert 'href="/konter/baru/DUKCAPIL-AKTA-LAHIR"' in found.text
    form, answer = submit_at_counter(web)
    assert "Periksa persyaratan yang dibawa pemohon" in form and "KTP-el (asli)" in form
    assert answer.status_code == 303
    ticket = web.get(answer.headers["location"])
    assert "Permohonan diterima." in ticket.text and 'class="tiket">DUK-001<' in ticket.text
    assert "NIK ****0001" in ticket.text and "6402024101900001" not in ticket.text
    sent = next(iter(upstream.intakes["loa-kulu"].applications.values()))
    assert sent["channel"] == "counter"
    queue = web.get("/konter")
    assert "Siti Aminah" in queue.text and "DUK-001" in queue.text


def test_missing_mandatory_requirement_is_named_unless_accepted_as_incomplete(
    web: TestClient, upstream: Upstream
) -> None:
    log_in(web, "op-loa-kulu")
    _, refused = submit_at_counter(web, persyaratan="KTP-el")
    assert refused.status_code == 422
    assert "Persyaratan wajib belum ada: Kartu Keluarga." in refused.text
    assert 'value="KTP-el" checked' in refused.text
    _, accepted = submit_at_counter(web, persyaratan="KTP-el", lengkap="1")
    assert accepted.status_code == 303
    assert next(iter(upstream.intakes["loa-kulu"].applications.values()))["status"] == "incomplete"


def test_operator_moves_an_application_and_a_repeat_is_harmless(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "op-loa-kulu")
    _, answer = submit_at_counter(web)
    url = answer.headers["location"].split("?")[0]
    page = web.get(url)
    assert "Batalkan permohonan" not in page.text  # an operator, not a supervisor
    no_note = web.post(f"{url}/status", data={"csrf": csrf_of(page.text), "status": "rejected"})
    assert no_note.status_code == 422 and "Alasan wajib diisi" in no_note.text
    ready = {"csrf": csrf_of(page.text), "status": "ready_for_pickup"}
    first = web.post(f"{url}/status", data=ready)
    again = web.post(f"{url}/status", data=ready)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"].endswith("pesan=diubah")
    assert "Siap diambil" in web.get(first.headers["location"]).text
    pickups = web.get("/konter/siap-diambil")
    assert "Siti Aminah" in pickups.text
    forbidden = web.post(f"{url}/batal", data={"csrf": csrf_of(page.text), "alasan": "pemohon batal"})
    assert forbidden.status_code == 403


def test_supervisor_cancels_with_a_reason(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "spv-loa-kulu")
    _, answer = submit_at_counter(web)
    url = answer.headers["location"].split("?")[0]
    page = web.get(url)
    assert "Batalkan permohonan" in page.text
    done = web.post(f"{url}/batal", data={"csrf": csrf_of(page.text), "alasan": "Pemohon membatalkan"})
    assert done.status_code == 303
    assert "Dibatalkan" in web.get(done.headers["location"]).text


def test_another_sites_operator_finds_nothing(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "op-loa-kulu")
    _, answer = submit_at_counter(web)
    url = answer.headers["location"].split("?")[0]
    web.cookies.clear()
    log_in(web, "op-tabang")
    assert web.get(url).status_code == 404
    assert "Siti Aminah" not in web.get("/konter").text


def test_central_arrivals_and_check_in(web: TestClient, upstream: Upstream) -> None:
    central = upstream.intakes["mpp-tenggarong"]
    log_in(web, "op-pusat")
    submit_at_counter(web, code="IMIGRASI-PASPOR-BARU")
    application = next(iter(central.applications.values()))
    central.move(application, "expected")
    arrivals = web.get("/konter/kedatangan")
    assert "Siti Aminah" in arrivals.text and "Catat hadir" in arrivals.text
    url = f"/konter/permohonan/{application['application_id']}"
    checked = web.post(f"{url}/hadir", data={"csrf": csrf_of(arrivals.text)})
    assert checked.status_code == 303 and application["status"] == "checked_in"


def test_reschedule_request_with_a_bad_date_is_marked(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "op-loa-kulu")
    _, answer = submit_at_counter(web, code="IMIGRASI-PASPOR-BARU")
    url = answer.headers["location"].split("?")[0]
    page = web.get(url)
    assert "Minta jadwal baru" in page.text
    bad = web.post(f"{url}/jadwal-ulang", data={"csrf": csrf_of(page.text), "mulai": "besok"})
    assert bad.status_code == 422 and "Tanggal tidak dikenali" in bad.text
    good = web.post(f"{url}/jadwal-ulang", data={"csrf": csrf_of(page.text), "mulai": "2026-12-07"})
    assert good.status_code == 303 and good.headers["location"].endswith("pesan=jadwal")


def test_catalogue_down_is_a_page_saying_so(web: TestClient, upstream: Upstream) -> None:
    upstream.catalog.down = True
    answer = web.get("/layanan", params={"q": "ktp"})
    assert answer.status_code == 503 and "Sedang gangguan" in answer.text and answer.headers["retry-after"]


# ---- rules ------------------------------------------------------------------------------------------------------


def test_every_status_has_a_label() -> None:
    from typing import get_args

    from mpp_contracts.intake import ApplicationStatus

    assert set(domain.STATUS_LABELS) == set(get_args(ApplicationStatus)) == set(domain.OPERATOR_NEXT)


def test_dates_are_said_in_the_sites_time_zone() -> None:
    assert domain.date_time("2026-12-01T01:30:00+00:00") == "Selasa, 1 Desember 2026 pukul 09.30 WITA"
    assert domain.date_time("2026-12-01T01:30:00+00:00", "Asia/Jakarta").endswith("08.30 WIB")
    assert domain.rupiah(350000) == "Rp350.000"


def test_repeated_wrong_passwords_lock_that_username_for_a_while(web: TestClient) -> None:
    page = web.get("/masuk")
    data = {"csrf": csrf_of(page.text), "pengguna": "op-tabang", "sandi": "salah"}
    assert [web.post("/masuk", data=data).status_code for _ in range(5)] == [401] * 5
    locked = web.post("/masuk", data={**data, "sandi": "rahasia-op-tabang"})
    assert locked.status_code == 429 and "Terlalu banyak percobaan" in locked.text
    log_in(web, "op-loa-kulu")  # another username is not affected


def test_login_throttle_forgets_after_the_window() -> None:
    throttle = LoginThrottle(attempts=2, window_s=60)
    throttle.failed("A", now=0)
    throttle.failed("a ", now=1)
    assert throttle.blocked("a", now=2) and not throttle.blocked("a", now=62)
    assert not throttle.blocked("nobody", now=2) and "nobody" not in throttle._failures


def test_the_menu_fits_the_site(web: TestClient) -> None:
    log_in(web, "op-pusat")
    central = web.get("/konter").text
    assert 'href="/konter/kedatangan"' in central and 'href="/konter/siap-diambil"' not in central
    web.cookies.clear()
    log_in(web, "op-tabang")
    mini = web.get("/konter").text
    assert 'href="/konter/siap-diambil"' in mini and 'href="/konter/kedatangan"' not in mini


def test_pages_are_not_in_the_api_document(web: TestClient) -> None:
    paths = web.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/healthz", "/readyz"}
    assert web.get("/readyz").status_code == 200


def test_a_bad_agency_filter_is_marked_not_sent(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "op-loa-kulu")
    answer = web.get("/konter", params={"instansi": "duk capil"})
    assert (
        answer.status_code == 422
        and "Tulis kode instansi" in answer.text
        and 'value="duk capil"' in answer.text
    )
    assert ("GET", "/queue") not in upstream.intakes["loa-kulu"].calls
    assert web.get("/static/gaya.css").headers["cache-control"] == "public, max-age=86400"


def test_the_sent_page_shows_only_a_tracking_code(web: TestClient) -> None:
    assert web.get("/ajukan/terkirim", params={"tempat": "tabang", "kode": "abcd-1234"}).status_code == 200
    assert web.get("/ajukan/terkirim", params={"tempat": "tabang", "kode": "HUBUNGI 0812"}).status_code == 404
    assert web.get("/ajukan/terkirim", params={"tempat": "evil", "kode": "ABCD-1234"}).status_code == 404


def test_tracking_works_while_another_sites_intake_is_away(web: TestClient, upstream: Upstream) -> None:
    apply_online(web, code="DUKCAPIL-AKTA-LAHIR")
    sent = web.get(enter_code(web, upstream.intakes["tabang"].sms[APPLICANT["hp"]]).headers["location"])
    code, csrf = tracking_code_of(sent.text), csrf_of(web.get("/lacak").text)
    del upstream.intakes["loa-kulu"]  # its host no longer answers
    found = web.post("/lacak", data={"csrf": csrf, "kode": code, "hp4": "0001"})
    assert found.status_code == 200 and "Penerbitan Akta Kelahiran" in found.text
    del upstream.intakes["tabang"]
    away = web.post("/lacak", data={"csrf": csrf, "kode": code, "hp4": "0001"})
    assert away.status_code == 503
