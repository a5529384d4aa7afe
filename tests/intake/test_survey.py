"""The satisfaction survey (SKM, PermenPANRB 14/2017) at intake: open once an application is completed, one
response per application, proven like tracking (wrong digits count toward the same lock), nothing personal kept;
the site's index (NRR per element, IKM, quality band) for its own operators."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from intake import domain
from tests.intake.conftest import OTHER_SITE_TOKEN, SERVICE, Intake

APPLICANT = {"name": "Dewi Lestari", "nik": "6402024101900001", "phone": "0812-7000-4321"}
COUNTER = {"service_code": SERVICE, "channel": "counter", "applicant": APPLICANT}
KEYS = domain.SURVEY_KEYS


def scores(*values: int) -> dict[str, int]:
    """Answers to the nine elements in the regulation's order (U1-U9); one value: all alike."""
    given = values * 9 if len(values) == 1 else values
    assert len(given) == 9
    return dict(zip(KEYS, given, strict=True))


async def submit(intake: Intake) -> dict[str, Any]:
    answer = await intake.client.post("/applications", json=COUNTER, headers=intake.operator())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def complete(intake: Intake, application_id: str) -> None:
    """Ready for pickup, then handed over: the applicant has the result."""
    ready = await intake.client.post(f"/applications/{application_id}/ready", headers=intake.operator())
    assert ready.status_code == 200, ready.text
    done = await intake.client.post(
        f"/applications/{application_id}/status", json={"status": "completed"}, headers=intake.operator()
    )
    assert done.status_code == 200, done.text


async def completed(intake: Intake) -> dict[str, Any]:
    accepted = await submit(intake)
    await complete(intake, accepted["application_id"])
    return accepted


async def answer(intake: Intake, code: str, digits: str = "4321", **body: Any) -> Any:
    return await intake.client.post(
        "/applications/track/survey",
        json={"tracking_code": code, "phone_last4": digits, "answers": scores(3), **body},
    )


async def track(intake: Intake, code: str, digits: str = "4321") -> Any:
    return await intake.client.post(
        "/applications/track", json={"tracking_code": code, "phone_last4": digits}
    )


# ---- the index, pure ------------------------------------------------------------------------------------------


def spread(total: int, responses: int) -> list[int]:
    """Nine element totals adding up to `total`, each one possible for `responses` answers of 1-4."""
    extra, totals = total - 9 * responses, []  # above all answers 1
    for _ in range(9):
        share = min(extra, 3 * responses)
        totals.append(responses + share)
        extra -= share
    assert extra == 0 and sum(totals) == total
    return totals


def test_the_index_follows_the_regulations_formula() -> None:
    assert domain.survey_index(0, [0] * 9) is None
    best = domain.survey_index(7, [28] * 9)
    assert best is not None and (best.ikm, best.band, best.quality) == (Decimal("100.00"), "A", "Sangat Baik")
    worst = domain.survey_index(7, [7] * 9)
    assert worst is not None and (worst.ikm, worst.band, worst.quality) == (
        Decimal("25.00"),
        "D",
        "Tidak Baik",
    )
    # Three answers: all 4, all 3, and 1 2 3 4 1 2 3 4 2. NRR per element, then (sum x 1/9) x 25.
    mixed = domain.survey_index(3, [8, 9, 10, 11, 8, 9, 10, 11, 9])
    assert mixed is not None
    assert mixed.nrr == tuple(
        Decimal(v) for v in ("2.67", "3.00", "3.33", "3.67", "2.67", "3.00", "3.33", "3.67", "3.00")
    )
    assert (mixed.ikm, mixed.band, mixed.quality) == (Decimal("78.70"), "B", "Baik")  # 25 x 85 / 27 = 78.7037
    with pytest.raises(ValueError):
        domain.survey_index(1, [4] * 8)


@pytest.mark.parametrize(
    ("ikm", "band", "quality"),
    [
        ("100.00", "A", "Sangat Baik"),
        ("88.31", "A", "Sangat Baik"),
        ("88.30", "B", "Baik"),
        ("76.61", "B", "Baik"),
        ("76.60", "C", "Kurang Baik"),
        ("65.00", "C", "Kurang Baik"),
        ("64.99", "D", "Tidak Baik"),
        ("25.00", "D", "Tidak Baik"),
    ],
)
def test_the_quality_bands_at_their_edges(ikm: str, band: str, quality: str) -> None:
    assert domain.quality_band(Decimal(ikm)) == (band, quality)


@pytest.mark.parametrize(
    ("responses", "total", "ikm", "band"),
    [
        (24, 763, "88.31", "A"),  # 88.3102 -> 88.31
        (19, 604, "88.30", "B"),  # 88.3041 -> 88.30
        (19, 524, "76.61", "B"),  # 76.6082 -> 76.61: rounded, then banded
        (26, 717, "76.60", "C"),  # 76.6026 -> 76.60
        (5, 117, "65.00", "C"),  # exactly 65
        (38, 889, "64.99", "D"),  # 64.9854 -> 64.99
    ],
)
def test_the_index_is_rounded_to_two_decimals_before_its_band(
    responses: int, total: int, ikm: str, band: str
) -> None:
    index = domain.survey_index(responses, spread(total, responses))
    assert index is not None and (index.ikm, index.band) == (Decimal(ikm), band)


def test_the_survey_opens_only_when_the_applicant_has_the_result() -> None:
    assert domain.SURVEY_OPENS_AT == {"completed"}
    assert domain.survey_state("completed", answered=False) == "open"
    assert domain.survey_state("completed", answered=True) == "done"
    for status in ("ready_for_pickup", "sent_to_origin", "rejected", "cancelled", "in_progress"):
        assert domain.survey_state(status, answered=False) is None


# ---- the survey over HTTP, on the real database ---------------------------------------------------------------


async def test_the_survey_opens_after_completion_and_takes_one_response(intake: Intake) -> None:
    accepted = await submit(intake)
    code = accepted["tracking_code"]
    assert (await track(intake, code)).json()["survey"] is None
    early = await answer(intake, code)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "survey_not_open"), early.text
    assert early.json()["error"]["fields"] == [{"field": "status", "reason": "opens at: completed"}]

    await complete(intake, accepted["application_id"])
    assert (await track(intake, code)).json()["survey"] == "open"
    first = await answer(intake, code.lower(), suggestion="  Antrean di loket perlu kursi tambahan.  ")
    assert first.status_code == 201, first.text
    assert (first.json()["tracking_code"], first.json()["survey"]) == (code, "done")
    assert (await track(intake, code)).json()["survey"] == "done"

    second = await answer(intake, code, answers=scores(1))
    assert (second.status_code, second.json()["error"]["code"]) == (409, "survey_done"), second.text
    async with intake.context.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM survey_response")
    [row] = rows
    # Nothing personal: the application's id, its site and service, the scores and the suggestion (trimmed).
    assert set(row.keys()) == {
        "application_id",
        "site_id",
        "service_code",
        *KEYS,
        "suggestion",
        "answered_at",
    }
    assert (str(row["application_id"]), row["site_id"], row["service_code"]) == (
        accepted["application_id"],
        intake.site_id,
        SERVICE,
    )
    assert [row[k] for k in KEYS] == [3] * 9  # the first response stays
    assert row["suggestion"] == "Antrean di loket perlu kursi tambahan."


async def test_an_empty_suggestion_is_none(intake: Intake) -> None:
    accepted = await completed(intake)
    assert (await answer(intake, accepted["tracking_code"], suggestion="   ")).status_code == 201
    async with intake.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT suggestion FROM survey_response") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": {**scores(3), "conduct": 5}}, "answers.conduct"),
        ({"answers": {**scores(3), "requirements": 0}}, "answers.requirements"),
        ({"answers": {**scores(3), "cost": "3"}}, "answers.cost"),  # a JSON integer only
        ({"answers": {**scores(3), "cost": 3.5}}, "answers.cost"),
        ({"answers": {k: 3 for k in KEYS[:-1]}}, "answers.facilities"),
        ({"answers": {**scores(3), "kebersihan": 3}}, "answers.kebersihan"),
        ({"suggestion": "x" * 501}, "suggestion"),
        ({"suggestion": "baik\x00"}, "suggestion"),
        ({"phone_last4": "43"}, "phone_last4"),
    ],
)
async def test_bad_answers_are_refused_by_field(intake: Intake, body: dict[str, Any], field: str) -> None:
    accepted = await completed(intake)
    refused = await answer(intake, accepted["tracking_code"], **body)
    assert refused.status_code == 422, refused.text
    assert field in [problem["field"] for problem in refused.json()["error"]["fields"]]
    async with intake.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM survey_response") == 0


async def test_wrong_digits_at_the_survey_count_toward_the_tracking_lock(intake: Intake) -> None:
    accepted = await completed(intake)
    code = accepted["tracking_code"]
    unknown = await answer(intake, "ZZZZ-ZZZZ")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    wrong = await answer(intake, code, "0000")
    assert wrong.status_code == 404 and wrong.json() == unknown.json()  # the same answer: nothing revealed
    for digits in ("1111", "2222"):
        assert (await track(intake, code, digits)).status_code == 404
    assert (await answer(intake, code, "3333")).status_code == 404
    assert (await track(intake, code, "5555")).status_code == 404  # the fifth wrong answer locks the code
    locked = await answer(intake, code)  # the right digits, too late
    assert (locked.status_code, locked.json()["error"]["code"]) == (429, "tracking_locked")
    assert int(locked.headers["Retry-After"]) > 60
    assert (await track(intake, code)).status_code == 429
    async with intake.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM survey_response") == 0


async def test_the_summary_gives_nrr_ikm_and_band_of_the_sites_own_responses(intake: Intake) -> None:
    answers = (scores(4), scores(3), scores(1, 2, 3, 4, 1, 2, 3, 4, 2))
    for given in answers:
        accepted = await completed(intake)
        assert (await answer(intake, accepted["tracking_code"], answers=given)).status_code == 201

    summary = await intake.client.get("/surveys/summary", headers=intake.operator())
    assert summary.status_code == 200, summary.text
    found = summary.json()
    assert (found["site_id"], found["responses"], found["ikm"], found["band"], found["quality"]) == (
        intake.site_id,
        3,
        78.70,
        "B",
        "Baik",
    )
    assert [(e["element"], e["key"], e["nrr"]) for e in found["elements"]] == [
        ("U1", "requirements", 2.67),
        ("U2", "procedure", 3.0),
        ("U3", "completion_time", 3.33),
        ("U4", "cost", 3.67),
        ("U5", "product", 2.67),
        ("U6", "competence", 3.0),
        ("U7", "conduct", 3.33),
        ("U8", "complaints", 3.67),
        ("U9", "facilities", 3.0),
    ]
    assert found["elements"][1]["name"] == "Sistem, Mekanisme, dan Prosedur"
    today = date.fromisoformat(found["last_day"])
    assert found["first_day"] == date(today.year, 1 if today.month <= 6 else 7, 1).isoformat()

    # Another site's operator counts their own site's responses only: none here.
    elsewhere = (
        await intake.client.get("/surveys/summary", headers=intake.operator(OTHER_SITE_TOKEN))
    ).json()
    assert (elsewhere["responses"], elsewhere["ikm"], elsewhere["band"]) == (0, None, None)
    assert {e["nrr"] for e in elsewhere["elements"]} == {None}
    assert (await intake.client.get("/surveys/summary")).status_code == 401


async def test_the_summary_counts_the_days_asked_in_the_sites_time(intake: Intake) -> None:
    accepted = await completed(intake)
    assert (await answer(intake, accepted["tracking_code"], answers=scores(2))).status_code == 201
    async with intake.context.pool.acquire() as conn:
        # 23:30 WITA on 1 March 2026 (15:30 UTC): that day where the site is.
        await conn.execute("UPDATE survey_response SET answered_at = '2026-03-01 15:30:00+00'")

    async def count(**period: str) -> Any:
        got = await intake.client.get("/surveys/summary", params=period, headers=intake.operator())
        assert got.status_code == 200, got.text
        return got.json()["responses"], got.json()["ikm"]

    assert await count(**{"from": "2026-03-01", "to": "2026-03-01"}) == (1, 50.0)
    assert await count(**{"from": "2026-02-01", "to": "2026-02-28"}) == (0, None)
    assert await count(**{"from": "2026-03-02", "to": "2026-03-31"}) == (0, None)
    backwards = await intake.client.get(
        "/surveys/summary", params={"from": "2026-03-02", "to": "2026-03-01"}, headers=intake.operator()
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["fields"] == [{"field": "from", "reason": "must be on or before `to`"}]
    bad = await intake.client.get("/surveys/summary", params={"from": "kemarin"}, headers=intake.operator())
    assert bad.status_code == 422
    for far in ({"from": "0001-01-01"}, {"to": "9999-12-31"}):
        refused = await intake.client.get("/surveys/summary", params=far, headers=intake.operator())
        assert refused.status_code == 422, refused.text  # never a 500 from a day a timestamp cannot hold
    misspelt = await intake.client.get(
        "/surveys/summary", params={"form": "2026-03-01"}, headers=intake.operator()
    )
    assert misspelt.status_code == 422, "an unknown parameter is refused, not read as the default period"
    assert misspelt.json()["error"]["fields"][0]["field"] == "form"


async def test_ready_for_pickup_is_not_yet_the_survey(intake: Intake) -> None:
    """The result waits at the counter: until it is handed over the survey stays closed."""
    accepted = await submit(intake)
    ready = await intake.client.post(
        f"/applications/{accepted['application_id']}/ready", headers=intake.operator()
    )
    assert ready.json()["status"] == "ready_for_pickup"
    assert (await track(intake, accepted["tracking_code"])).json()["survey"] is None
    assert (await answer(intake, accepted["tracking_code"])).status_code == 409
