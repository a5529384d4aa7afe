"""The satisfaction survey (SKM) in the portal and its index in the console, against the fakes: the button on a
completed application's tracking, the nine questions as radio groups, errors next to the fields, the tracking code
and digits only in POSTed hidden fields, one response (a repeat is harmless), the site's IKM for its operators.

The fakes of tests/web/fakes.py do not know the survey: `Surveys` answers intake's two survey endpoints over them
(as intake does: proven like tracking, open once completed, one response) and adds `survey` to tracking's answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_of, log_in
from tests.web.fakes import FakeIntake, Upstream
from tests.web.test_pages import submit_at_counter
from web import domain
from web.app import create_app
from web.settings import WebSettings

DIGITS = "0001"  # the last four of the applicant's phone in tests.web.test_pages.APPLICANT
ALL_THREE = {f"u{n}": "3" for n in range(1, 10)}


def _error(status: int, code: str, fields: list[dict[str, str]] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code, "fields": fields or []}})


class Surveys:
    """Intake's survey endpoints over the fake intakes."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.responses: dict[str, dict[str, Any]] = {}  # application id -> the body intake was sent
        self.sent: list[tuple[str, dict[str, Any], str | None]] = []  # (site, body, X-Forwarded-For)
        self.summaries: list[tuple[str, dict[str, str]]] = []  # (site, query)
        self.refuse_period: str | None = None  # the summary's query field intake refuses (a 422)

    def transport(self) -> httpx.MockTransport:
        inner = self.upstream.transport()

        def route(request: httpx.Request) -> httpx.Response:
            site = request.url.host.removeprefix("intake-").removesuffix(".test")
            fake = self.upstream.intakes.get(site)
            path, method = request.url.path, request.method
            if fake is not None and (method, path) == ("POST", "/applications/track/survey"):
                return self.answer(fake, request)
            if fake is not None and (method, path) == ("GET", "/surveys/summary"):
                return self.summary(fake, request)
            response = inner.handle_request(request)
            if fake is not None and path == "/applications/track" and response.status_code == 200:
                tracked = response.json()
                return httpx.Response(
                    200, json={**tracked, "survey": self.state(fake, tracked["tracking_code"])}
                )
            return response

        return httpx.MockTransport(route)

    def find(self, fake: FakeIntake, code: str, digits: str) -> dict[str, Any] | None:
        return next(
            (
                a
                for a in fake.applications.values()
                if a["tracking_code"] == code.upper() and a["phone_last4"] == digits
            ),
            None,
        )

    def state(self, fake: FakeIntake, code: str) -> str | None:
        application = next(a for a in fake.applications.values() if a["tracking_code"] == code)
        if application["application_id"] in self.responses:
            return "done"
        return "open" if application["status"] == "completed" else None

    def answer(self, fake: FakeIntake, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.sent.append((fake.site, body, request.headers.get("x-forwarded-for")))
        if "track" in fake.limited:  # the same limit as tracking
            return httpx.Response(
                429,
                json={"error": {"code": "rate_limited", "message": "slow down", "fields": []}},
                headers={"Retry-After": str(fake.limited["track"])},
            )
        application = self.find(fake, body["tracking_code"], body["phone_last4"])
        if application is None:
            return _error(404, "not_found", [{"field": "tracking_code", "reason": "not found"}])
        if application["status"] != "completed":
            return _error(409, "survey_not_open", [{"field": "status", "reason": "opens at: completed"}])
        if application["application_id"] in self.responses:
            return _error(409, "survey_done", [{"field": "tracking_code", "reason": "answered already"}])
        self.responses[application["application_id"]] = body
        return httpx.Response(
            201,
            json={
                "tracking_code": application["tracking_code"],
                "survey": "done",
                "answered_at": "2026-03-01",
            },
        )

    def summary(self, fake: FakeIntake, request: httpx.Request) -> httpx.Response:
        site = fake.operator_site(request)
        if site is None:
            return _error(401, "unauthorized")
        query = dict(request.url.params)
        self.summaries.append((site, query))
        if self.refuse_period:
            return _error(422, "validation_failed", [{"field": self.refuse_period, "reason": "out of range"}])
        nrr = (2.67, 3.0, 3.33, 3.67, 2.67, 3.0, 3.33, 3.67, 3.0)
        return httpx.Response(
            200,
            json={
                "site_id": site,
                "first_day": query.get("from", "2026-01-01"),
                "last_day": query.get("to", "2026-03-01"),
                "responses": 3,
                "elements": [
                    {"element": f"U{n}", "key": q.key, "name": q.element, "nrr": value}
                    for n, (q, value) in enumerate(zip(domain.SURVEY_QUESTIONS, nrr, strict=True), start=1)
                ],
                "ikm": 78.7,
                "band": "B",
                "quality": "Baik",
            },
        )


@pytest.fixture
def surveys(upstream: Upstream) -> Surveys:
    return Surveys(upstream)


@pytest.fixture
def web(settings: WebSettings, surveys: Surveys) -> Iterator[TestClient]:
    """The web over the fakes with the survey endpoints."""
    app = create_app(settings, upstream=surveys.transport())
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def counter_application(web: TestClient, upstream: Upstream, *, completed: bool = True) -> dict[str, Any]:
    """An application at Loa Kulu's counter, handed over to the applicant; then the operator logs out."""
    log_in(web, "op-loa-kulu")
    _, sent = submit_at_counter(web)
    assert sent.status_code == 303, sent.text
    fake = upstream.intakes["loa-kulu"]
    [application] = fake.applications.values()
    if completed:
        fake.move(application, "ready_for_pickup")
        fake.move(application, "completed")
    web.cookies.clear()
    return application


def track(web: TestClient, code: str, digits: str = DIGITS) -> httpx.Response:
    page = web.get("/lacak")
    return web.post("/lacak", data={"csrf": csrf_of(page.text), "kode": code, "hp4": digits})


def hidden_fields(page: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form, f"no form posting to {action}"
    return dict(re.findall(r'<input type="hidden" name="([a-z0-9]+)" value="([^"]*)"', form.group(0)))


def open_survey(web: TestClient, code: str) -> httpx.Response:
    tracked = track(web, code)
    assert "Isi Survei Kepuasan" in tracked.text
    return web.post("/lacak/survei", data=hidden_fields(tracked.text, "/lacak/survei"))


def send(web: TestClient, form: httpx.Response, **answers: str) -> httpx.Response:
    return web.post(
        "/lacak/survei/kirim", data={**hidden_fields(form.text, "/lacak/survei/kirim"), **answers}
    )


# ---- the portal -------------------------------------------------------------------------------------------------


def test_tracking_offers_the_survey_once_the_application_is_completed(
    web: TestClient, upstream: Upstream
) -> None:
    application = counter_application(web, upstream, completed=False)
    code = application["tracking_code"]
    waiting = track(web, code)
    assert waiting.status_code == 200 and "Isi Survei Kepuasan" not in waiting.text
    fake = upstream.intakes["loa-kulu"]
    fake.move(application, "ready_for_pickup")
    fake.move(application, "completed")

    done = track(web, code)
    assert done.status_code == 200 and "Isi Survei Kepuasan" in done.text
    # The code, the digits and the site travel as hidden fields of a POST: never in an address.
    fields = hidden_fields(done.text, "/lacak/survei")
    assert {k: fields[k] for k in ("kode", "hp4", "tempat")} == {
        "kode": code,
        "hp4": DIGITS,
        "tempat": "loa-kulu",
    }
    assert not re.search(r'href="[^"]*' + DIGITS, done.text)
    assert "no-store" in done.headers["cache-control"]


def test_the_survey_form_asks_the_nine_elements_as_radio_groups(web: TestClient, upstream: Upstream) -> None:
    application = counter_application(web, upstream)
    form = open_survey(web, application["tracking_code"].lower())
    assert form.status_code == 200, form.text
    assert "no-store" in form.headers["cache-control"]
    page = form.text
    assert page.count("<fieldset") == 9 and page.count("<legend>") == 9
    for n, question in enumerate(domain.SURVEY_QUESTIONS, start=1):
        assert f"<legend>{n}. {question.question}</legend>" in page
        for score in "1234":
            assert f'name="u{n}" value="{score}"' in page
        for answer in question.answers:
            assert f">{answer}</label>" in page
    assert 'id="f-u1"' in page and 'for="f-u1"' in page and 'for="f-u1-4"' in page  # labels tied to radios
    assert '<textarea id="f-saran" name="saran"' in page and 'maxlength="500"' in page
    assert "(tidak wajib)" in page
    fields = hidden_fields(page, "/lacak/survei/kirim")
    assert (fields["kode"], fields["hp4"], fields["tempat"]) == (
        application["tracking_code"],
        DIGITS,
        "loa-kulu",
    )
    assert "<script>" not in page  # works without JavaScript: a plain form


def test_missing_answers_are_marked_next_to_their_question_and_nothing_is_sent(
    web: TestClient, upstream: Upstream, surveys: Surveys
) -> None:
    application = counter_application(web, upstream)
    form = open_survey(web, application["tracking_code"])
    partial = send(web, form, u1="4", u2="3", u3="2", u4="1", saran="Ruang tunggu panas.")
    assert partial.status_code == 422
    page = partial.text
    assert page.count("Pilih salah satu jawaban.") == 2 * 5  # in the summary and next to u5-u9
    assert 'aria-describedby="g-u5"' in page and 'id="g-u9"' in page and 'id="g-u1"' not in page
    assert 'name="u1" value="4" checked' in page and 'name="u4" value="1" checked' in page  # kept
    assert "Ruang tunggu panas.</textarea>" in page
    assert 'href="#f-u5"' in page  # the summary links to the question's first answer
    too_long = send(web, partial, **ALL_THREE, saran="x" * 501)
    assert (
        too_long.status_code == 422
        and "Saran paling banyak 500 huruf; yang ditulis 501 huruf." in too_long.text
    )
    out_of_scale = send(web, partial, **{**ALL_THREE, "u7": "5"})
    assert out_of_scale.status_code == 422 and 'id="g-u7"' in out_of_scale.text
    assert surveys.sent == []


def test_the_answers_reach_intake_once_and_a_repeat_is_thanked_too(
    web: TestClient, upstream: Upstream, surveys: Surveys
) -> None:
    application = counter_application(web, upstream)
    form = open_survey(web, application["tracking_code"])
    answers = {f"u{n}": str(score) for n, score in enumerate((4, 3, 2, 1, 4, 3, 2, 1, 4), start=1)}
    first = send(web, form, **answers, saran="  Petugas ramah.  ")
    assert first.status_code == 303 and first.headers["location"] == "/lacak/survei/terima-kasih"
    [(site, body, forwarded_for)] = surveys.sent
    assert site == "loa-kulu" and forwarded_for == "testclient"  # the person's address, for intake's limits
    assert body == {
        "tracking_code": application["tracking_code"],
        "phone_last4": DIGITS,
        "answers": {
            "requirements": 4,
            "procedure": 3,
            "completion_time": 2,
            "cost": 1,
            "product": 4,
            "competence": 3,
            "conduct": 2,
            "complaints": 1,
            "facilities": 4,
        },
        "suggestion": "Petugas ramah.",
    }
    again = send(web, form, **answers)  # a double click or a reload: intake says answered already
    assert again.status_code == 303 and again.headers["location"] == "/lacak/survei/terima-kasih"
    assert len(surveys.responses) == 1
    thanks = web.get("/lacak/survei/terima-kasih")
    assert thanks.status_code == 200 and "<h1>Terima kasih</h1>" in thanks.text
    tracked = track(web, application["tracking_code"])
    assert "Isi Survei Kepuasan" not in tracked.text and "sudah diisi" in tracked.text


def test_no_suggestion_sends_none(web: TestClient, upstream: Upstream, surveys: Surveys) -> None:
    application = counter_application(web, upstream)
    assert (
        send(web, open_survey(web, application["tracking_code"]), **ALL_THREE, saran="  ").status_code == 303
    )
    [(_, body, _)] = surveys.sent
    assert "suggestion" not in body and body["answers"] == {q.key: 3 for q in domain.SURVEY_QUESTIONS}


def test_intakes_refusals_are_said_on_the_page(web: TestClient, upstream: Upstream, surveys: Surveys) -> None:
    application = counter_application(web, upstream)
    form = open_survey(web, application["tracking_code"])
    fields = hidden_fields(form.text, "/lacak/survei/kirim")

    forged = web.post("/lacak/survei/kirim", data={**fields, "hp4": "9999", **ALL_THREE})
    assert forged.status_code == 404 and "tidak cocok" in forged.text
    upstream.intakes["loa-kulu"].limited["track"] = 30
    limited = send(web, form, **ALL_THREE)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    assert "coba lagi dalam 30 detik" in limited.text and 'name="u1" value="3" checked' in limited.text
    del upstream.intakes["loa-kulu"].limited["track"]
    application["status"] = "ready_for_pickup"  # as if not handed over yet
    early = send(web, form, **ALL_THREE)
    assert early.status_code == 409 and "setelah permohonan selesai" in early.text
    assert surveys.responses == {}


@pytest.mark.parametrize(
    "change",
    [{"kode": "bukan kode"}, {"hp4": "12"}, {"tempat": "atlantis"}, {"tempat": ""}],
)
def test_a_survey_without_its_tracking_proof_is_not_opened(
    web: TestClient, upstream: Upstream, surveys: Surveys, change: dict[str, str]
) -> None:
    application = counter_application(web, upstream)
    tracked = track(web, application["tracking_code"])
    fields = {**hidden_fields(tracked.text, "/lacak/survei"), **change}
    opened = web.post("/lacak/survei", data=fields)
    assert opened.status_code == 422 and "Lacak permohonan" in opened.text
    sent = web.post("/lacak/survei/kirim", data={**fields, **ALL_THREE})
    assert sent.status_code == 422 and surveys.sent == []


def test_the_survey_forms_need_their_csrf_field(
    web: TestClient, upstream: Upstream, surveys: Surveys
) -> None:
    application = counter_application(web, upstream)
    fields = hidden_fields(track(web, application["tracking_code"]).text, "/lacak/survei")
    del fields["csrf"]
    assert web.post("/lacak/survei", data=fields).status_code == 403
    assert web.post("/lacak/survei/kirim", data={**fields, **ALL_THREE}).status_code == 403
    assert surveys.sent == []
    assert web.get("/lacak/survei").headers["location"] == "/lacak"  # it starts from tracking


# ---- the console ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["op-loa-kulu", "spv-loa-kulu"])
def test_the_console_shows_the_sites_ikm(web: TestClient, surveys: Surveys, username: str) -> None:
    log_in(web, username)
    assert 'href="/konter/survei"' in web.get("/konter").text  # in the menu
    page = web.get("/konter/survei")
    assert page.status_code == 200, page.text
    assert surveys.summaries == [("loa-kulu", {})]  # the operator's own site, by their token; intake's period
    assert "Mini MPP Kecamatan Loa Kulu" in page.text
    assert "Jumlah responden: <strong>3</strong>" in page.text
    assert '<strong class="kode">78,70</strong>' in page.text and "<strong>B (Baik)</strong>" in page.text
    assert "<td>U2</td><td>Sistem, mekanisme, dan prosedur</td><td>3,00</td>" in page.text
    assert "1 Januari 2026 sampai" in page.text and 'value="2026-01-01"' in page.text

    chosen = web.get("/konter/survei", params={"dari": "2026-02-01", "sampai": "2026-02-28"})
    assert chosen.status_code == 200
    assert surveys.summaries[-1] == ("loa-kulu", {"from": "2026-02-01", "to": "2026-02-28"})
    assert "Minggu, 1 Februari 2026 sampai Sabtu, 28 Februari 2026" in chosen.text


def test_a_bad_period_is_marked_not_sent(web: TestClient, surveys: Surveys) -> None:
    log_in(web, "op-loa-kulu")
    backwards = web.get("/konter/survei", params={"dari": "2026-03-02", "sampai": "2026-03-01"})
    assert backwards.status_code == 422
    assert "Tanggal awal harus sebelum atau sama dengan tanggal akhir." in backwards.text
    assert 'value="2026-03-02"' in backwards.text  # kept
    unreadable = web.get("/konter/survei", params={"dari": "kemarin"})
    assert unreadable.status_code == 422 and "Tanggal tidak dikenali" in unreadable.text
    assert surveys.summaries == []
    surveys.refuse_period = "to"  # intake counts no such day
    far = web.get("/konter/survei", params={"sampai": "9999-12-31"})
    assert far.status_code == 422 and 'id="g-sampai">Tanggal di luar jangkauan' in far.text
    assert 'id="g-dari"' not in far.text


def test_the_console_summary_needs_a_login(web: TestClient) -> None:
    answer = web.get("/konter/survei")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/masuk")


# ---- pure rules -------------------------------------------------------------------------------------------------


def test_the_questions_follow_the_nine_elements() -> None:
    assert [q.field for q in domain.SURVEY_QUESTIONS] == [f"u{n}" for n in range(1, 10)]
    assert all(len(q.answers) == 4 for q in domain.SURVEY_QUESTIONS)


def test_the_survey_is_offered_where_it_is_open() -> None:
    origin = {"site_id": "loa-kulu", "survey": "open"}
    central = {"site_id": "mpp-tenggarong", "survey": None}
    assert domain.survey_offer([central, origin]) == ("loa-kulu", "open")
    assert domain.survey_offer([central, {**origin, "survey": "done"}]) == ("loa-kulu", "done")
    assert domain.survey_offer([central, {"site_id": "tabang"}]) is None  # an older intake: no survey field
