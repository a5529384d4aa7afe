"""The console's supervisor actions (cancel, erase personal data) show only for supervisors and carry the role in
the token intake checks; the portal's code page asks intake for a new code ("Kirim ulang kode")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mpp_kit.auth import SignedTokenVerifier
from tests.web.conftest import csrf_of, log_in
from tests.web.fakes import FakeCatalog, FakeIntake, Upstream, _error
from tests.web.test_pages import apply_online, enter_code, submit_at_counter

RESEND = re.compile(r"/applications/([0-9a-f-]{36})/verification/resend")
SUPERVISOR_ONLY = re.compile(r"/applications/([0-9a-f-]{36})/(cancel|erase)")


@dataclass
class RoleAwareIntake(FakeIntake):
    """The fake intake, plus what intake does about roles and new codes: cancel and erase need the token's role
    `supervisor` (403 otherwise); erase empties the personal fields of a closed application; a new code replaces
    the old one, at most `max_resends` times, and 429 while `resend_wait_s` is set."""

    roles: list[str | None] = field(default_factory=list)  # the role claim of each supervisor-only call
    resends: dict[str, int] = field(default_factory=dict)
    max_resends: int = 3
    resend_wait_s: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and (match := RESEND.fullmatch(path)):
            self.calls.append((request.method, path))
            self.forwarded_for.append(request.headers.get("x-forwarded-for"))
            return self.resend(match.group(1))
        if request.method == "POST" and (match := SUPERVISOR_ONLY.fullmatch(path)):
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            claims = self.verifier.claims(given)
            self.roles.append(claims.get("role") if claims else None)
            if claims and claims.get("role") != "supervisor":
                self.calls.append((request.method, path))
                return _error(403, "forbidden", [{"field": "Authorization", "reason": "supervisor"}])
            if claims and match.group(2) == "erase":
                self.calls.append((request.method, path))
                return self.erase(match.group(1), str(claims["site"]))
        return super().handle(request)

    def erase(self, application_id: str, site: str) -> httpx.Response:
        application = self.applications.get(application_id)
        if application is None or application["site_id"] != site:
            return _error(404, "not_found")
        if application["status"] not in ("completed", "cancelled", "rejected"):
            return _error(409, "application_open")
        application.update(applicant_name="", nik_last4=None, phone_last4="")
        self.move(application, application["status"], "data pribadi dihapus")
        return httpx.Response(200, json=application)

    def resend(self, application_id: str) -> httpx.Response:
        pending = self.verifications.get(application_id)
        if pending is None:
            return _error(404, "not_found")
        if self.applications[application_id]["status"] != "awaiting_verification":
            return _error(409, "not_awaiting_verification")
        if self.resends.get(application_id, 0) >= self.max_resends:
            return _error(409, "resends_exhausted")
        if self.resend_wait_s:
            return httpx.Response(
                429,
                json={"error": {"code": "resend_too_soon", "message": "wait", "fields": []}},
                headers={"Retry-After": str(self.resend_wait_s)},
            )
        self.resends[application_id] = self.resends.get(application_id, 0) + 1
        code = f"{(int(pending['code']) + 1) % 1_000_000:06d}"
        pending.update(code=code, attempts=0, expired=False)
        phone = self.applications[application_id]["phone"]
        self.sms[phone] = code
        return httpx.Response(
            202,
            json={
                "application_id": application_id,
                "status": "awaiting_verification",
                "valid_minutes": 10,
                "resends_left": self.max_resends - self.resends[application_id],
                "next_resend_after_s": 60,
            },
        )


@pytest.fixture
def upstream(key_pair: tuple[str, str]) -> Upstream:
    verifier = SignedTokenVerifier(key_pair[1], "mpp-web", "mpp-intake")
    sites = ("mpp-tenggarong", "loa-kulu", "tabang")
    return Upstream(FakeCatalog(), {s: RoleAwareIntake(s, verifier) for s in sites})


def intake_of(upstream: Upstream, site: str) -> RoleAwareIntake:
    found = upstream.intakes[site]
    assert isinstance(found, RoleAwareIntake)
    return found


def cancelled_application(web: TestClient) -> str:
    """A counter application cancelled by the Loa Kulu supervisor (logged in); its page's address."""
    _, answer = submit_at_counter(web)
    url = str(answer.headers["location"].split("?")[0])
    page = web.get(url)
    done = web.post(f"{url}/batal", data={"csrf": csrf_of(page.text), "alasan": "Pemohon membatalkan"})
    assert done.status_code == 303, done.text
    return url


# ---- the console ----------------------------------------------------------------------------------------------


def test_an_operator_sees_neither_cancel_nor_erase_and_is_refused_both(
    web: TestClient, upstream: Upstream
) -> None:
    log_in(web, "spv-loa-kulu")
    url = cancelled_application(web)
    web.cookies.clear()
    log_in(web, "op-loa-kulu")
    page = web.get(url)
    assert page.status_code == 200
    assert "Hapus data pribadi" not in page.text and "Batalkan permohonan" not in page.text
    refused = web.post(f"{url}/hapus-data", data={"csrf": csrf_of(page.text), "alasan_hapus": "permintaan"})
    assert refused.status_code == 403 and "hanya untuk supervisor" in refused.text
    assert not any(path.endswith("/erase") for _, path in intake_of(upstream, "loa-kulu").calls)


def test_a_supervisor_erases_a_closed_applications_personal_data(web: TestClient, upstream: Upstream) -> None:
    log_in(web, "spv-loa-kulu")
    _, answer = submit_at_counter(web)
    open_page = web.get(answer.headers["location"].split("?")[0])
    assert "Hapus data pribadi" not in open_page.text  # open: cancel first
    url = cancelled_application(web)
    page = web.get(url)
    assert "Hapus data pribadi" in page.text and 'action="' + url + '/hapus-data"' in page.text

    empty = web.post(f"{url}/hapus-data", data={"csrf": csrf_of(page.text), "alasan_hapus": " "})
    assert empty.status_code == 422 and "Alasan wajib diisi" in empty.text
    with_nik = web.post(
        f"{url}/hapus-data", data={"csrf": csrf_of(page.text), "alasan_hapus": "NIK 6402024101900001"}
    )
    assert with_nik.status_code == 422 and "Jangan menulis NIK" in with_nik.text

    done = web.post(
        f"{url}/hapus-data", data={"csrf": csrf_of(page.text), "alasan_hapus": "permintaan pemohon"}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("pesan=dihapus")
    after = web.get(done.headers["location"])
    assert "Data pribadi pemohon sudah dihapus" in after.text and "Siti Aminah" not in after.text
    assert "Hapus data pribadi" not in after.text  # nothing left to erase
    # The console's token told intake the role, for the cancel and the erase alike.
    assert intake_of(upstream, "loa-kulu").roles == ["supervisor", "supervisor"]


class Demoted(SignedTokenVerifier):
    """Reads every valid token as an operator's, whatever role the console wrote."""

    def claims(self, token: str) -> dict[str, Any] | None:
        found = super().claims(token)
        return {**found, "role": "operator"} if found else None


def test_intake_refusing_the_role_is_the_not_allowed_page(web: TestClient, upstream: Upstream) -> None:
    """Intake has the last word: a 403 from it (a role changed since login) is the same page as the console's."""
    log_in(web, "spv-loa-kulu")
    _, answer = submit_at_counter(web)
    url = answer.headers["location"].split("?")[0]
    page = web.get(url)
    loa_kulu = intake_of(upstream, "loa-kulu")
    roles_before = len(loa_kulu.roles)
    loa_kulu.verifier = Demoted(loa_kulu.verifier.public_key, "mpp-web", "mpp-intake")
    refused = web.post(f"{url}/batal", data={"csrf": csrf_of(page.text), "alasan": "Pemohon membatalkan"})
    assert refused.status_code == 403 and "hanya untuk supervisor" in refused.text
    assert loa_kulu.roles[roles_before:] == ["operator"]


# ---- the portal: a new code -----------------------------------------------------------------------------------


def resend(web: TestClient) -> httpx.Response:
    page = web.get("/ajukan/verifikasi")
    return web.post("/ajukan/verifikasi/kirim-ulang", data={"csrf": csrf_of(page.text)})


def test_the_code_page_asks_for_a_new_code_and_the_new_one_works(web: TestClient, upstream: Upstream) -> None:
    tabang = intake_of(upstream, "tabang")
    assert apply_online(web).status_code == 303
    page = web.get("/ajukan/verifikasi")
    assert "Kirim ulang kode" in page.text and 'action="/ajukan/verifikasi/kirim-ulang"' in page.text
    old = tabang.sms["0812-3456-0001"]

    again = resend(web)
    assert again.status_code == 200 and "Kode baru sudah dikirim" in again.text
    new = tabang.sms["0812-3456-0001"]
    assert new != old
    # The person's address went along (intake limits new codes per address too).
    assert tabang.forwarded_for[-1] == "testclient"
    assert enter_code(web, old).status_code == 422
    sent = enter_code(web, new)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/ajukan/terkirim")


def test_asking_too_soon_says_how_long_to_wait(web: TestClient, upstream: Upstream) -> None:
    tabang = intake_of(upstream, "tabang")
    apply_online(web)
    tabang.resend_wait_s = 42
    too_soon = resend(web)
    assert too_soon.status_code == 429 and too_soon.headers["Retry-After"] == "42"
    assert "Tunggu 42 detik sebelum meminta kode lagi" in too_soon.text
    assert "Kirim ulang kode" in too_soon.text  # still on the code page


def test_when_new_codes_are_used_up_the_step_ends_with_a_way_to_apply_again(
    web: TestClient, upstream: Upstream
) -> None:
    tabang = intake_of(upstream, "tabang")
    apply_online(web)
    for _ in range(tabang.max_resends):
        assert resend(web).status_code == 200
    used_up = resend(web)
    assert used_up.status_code == 409 and "terlalu sering diminta" in used_up.text
    assert "Ajukan lagi" in used_up.text and 'mpp_verifikasi=""' in used_up.headers["set-cookie"]


def test_an_expired_code_offers_a_new_one(web: TestClient, upstream: Upstream) -> None:
    tabang = intake_of(upstream, "tabang")
    apply_online(web, code="DUKCAPIL-AKTA-LAHIR")
    next(iter(tabang.verifications.values()))["expired"] = True
    expired = enter_code(web, tabang.sms["0812-3456-0001"])
    assert expired.status_code == 409 and "Kirim ulang kode" in expired.text
    assert "mpp_verifikasi" not in expired.headers.get("set-cookie", "")  # the step stays open
    assert resend(web).status_code == 200
    sent = enter_code(web, tabang.sms["0812-3456-0001"])
    assert sent.status_code == 303, sent.text
