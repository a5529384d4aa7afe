"""The site's operators: a bearer token before anything else, then reads and status changes (with their event)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.intake.conftest import SERVICE, Intake

APPLICANT = {"name": "Siti Aminah", "nik": "6402024101900001", "phone": "0812-3456-0001"}


async def submitted(intake: Intake) -> dict[str, Any]:
    response = await intake.client.post(
        "/applications", json={"service_code": SERVICE, "applicant": APPLICANT}, headers=intake.operator()
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def change(intake: Intake, application_id: str, body: object, **headers: Any) -> httpx.Response:
    return await intake.client.post(
        f"/applications/{application_id}/status", json=body, headers=headers or intake.operator()
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        "Basic YW5pOnNlY3JldA==",
        "Bearer tökén-ñ".encode(),  # non-ASCII bytes: an unknown token, not a crash
        "Bearer \u0663\u0664".encode(),
    ],
)
async def test_without_a_valid_token_it_is_401_before_the_body_is_read(
    intake: Intake, authorization: str | bytes | None
) -> None:
    headers: dict[str, Any] = {} if authorization is None else {"Authorization": authorization}
    application_id = str(uuid4())
    for response in (
        await intake.client.get(f"/applications/{application_id}", headers=headers),
        await intake.client.get("/applications/not-a-uuid", headers=headers),
        # A body that is invalid in every way: still 401, never a 422 to someone without a right to send it.
        await intake.client.post(
            f"/applications/{application_id}/status", content=b'{"status": "flying"', headers=headers
        ),
        await intake.client.post(
            "/applications/x/status", json={"status": 1, "note": "\x00"}, headers=headers
        ),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_operator_reads_an_application_without_the_nik(intake: Intake) -> None:
    accepted = await submitted(intake)
    response = await intake.client.get(
        f"/applications/{accepted['application_id']}", headers=intake.operator()
    )
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["nik_last4"], view["phone_last4"], view["status"]) == ("0001", "0001", "submitted")
    assert "6402024101900001" not in response.text
    unknown = await intake.client.get(f"/applications/{uuid4()}", headers=intake.operator())
    assert unknown.status_code == 404
    assert unknown.json()["error"]["fields"] == [
        {"field": "application_id", "reason": "unknown at this site"}
    ]


async def test_status_changes_follow_the_allowed_transitions(intake: Intake) -> None:
    application_id = (await submitted(intake))["application_id"]
    moved = await change(intake, application_id, {"status": "ready_for_pickup"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "ready_for_pickup"

    illegal = await change(intake, application_id, {"status": "in_progress"})
    assert illegal.status_code == 409
    assert illegal.json()["error"]["code"] == "invalid_transition"
    assert illegal.json()["error"]["fields"] == [
        {"field": "status", "reason": "allowed from ready_for_pickup: completed"}
    ]

    assert (await change(intake, application_id, {"status": "completed"})).status_code == 200
    final = await change(intake, application_id, {"status": "rejected", "note": "berkas tidak lengkap"})
    assert final.status_code == 409
    assert "none (it is final)" in final.text

    changed = [e for e in await intake.events() if e["type"] == "application.status_changed"]
    assert [e["status"] for e in changed] == ["ready_for_pickup", "completed"]
    assert changed[0]["site_name"] == "Mini MPP Test"
    assert (await change(intake, str(uuid4()), {"status": "in_progress"})).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"status": "rejected"}, "note", "needs a short note"),
        ({"status": "rejected", "note": "  "}, "note", "at least 3"),
        ({"status": "submitted"}, "status", "in_progress"),
        ({"status": "in_progress", "note": "x" * 61}, "note", "at most 60"),
        ({"status": "in_progress", "note": "a\x00bc"}, "note", "NUL"),
    ],
)
async def test_a_bad_status_change_is_422_naming_the_field(
    intake: Intake, body: dict[str, Any], field: str, reason: str
) -> None:
    application_id = (await submitted(intake))["application_id"]
    response = await change(intake, application_id, body)
    assert response.status_code == 422, response.text
    problems = {f["field"]: f["reason"] for f in response.json()["error"]["fields"]}
    assert reason in problems[field], problems


async def test_a_rejection_carries_its_note_to_the_event(intake: Intake) -> None:
    application_id = (await submitted(intake))["application_id"]
    response = await change(intake, application_id, {"status": "rejected", "note": "berkas tidak lengkap"})
    assert response.status_code == 200, response.text
    event = (await intake.events())[-1]
    assert (event["status"], event["note"]) == ("rejected", "berkas tidak lengkap")
