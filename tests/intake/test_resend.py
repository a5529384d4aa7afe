"""Asking for the phone's code again: only while the application waits for it, a few times, not too often; the new
code replaces the old one and travels in the same event as the first."""

from __future__ import annotations

from typing import Any

import httpx

from intake.domain import resend_refusal
from mpp_contracts.intake import VERIFICATION_CODE_PURPOSE
from mpp_devstack.infra import Infra
from mpp_kit.sealing import unseal
from tests.intake.conftest import SERVICE, Intake, intake_settings, running_intake

APPLICANT = {"name": "Dewi Lestari", "nik": "6402024101900001", "phone": "0812-7000-4321"}
ONLINE = {"service_code": SERVICE, "channel": "online", "applicant": APPLICANT}


async def submit_online(intake: Intake) -> str:
    response = await intake.client.post("/applications", json=ONLINE)
    assert response.status_code == 201, response.text
    return str(response.json()["application_id"])


async def resend(intake: Intake, application_id: str) -> httpx.Response:
    return await intake.client.post(f"/applications/{application_id}/verification/resend")


async def verify(intake: Intake, application_id: str, code: str) -> httpx.Response:
    return await intake.client.post(f"/applications/{application_id}/verify", json={"code": code})


def opened(intake: Intake, event: dict[str, Any]) -> str:
    """The code an event carries, opened as notify opens it."""
    return unseal(
        event["sealed_code"],
        intake.context.settings.contact_sealing_key,
        purpose=VERIFICATION_CODE_PURPOSE,
        bound_to=event["application_id"],
    )


async def codes_sent(intake: Intake, application_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await intake.events()
        if e["type"] == "phone_verification.requested" and e["application_id"] == application_id
    ]


async def sent_a_while_ago(intake: Intake, application_id: str, seconds: int = 61) -> None:
    async with intake.context.pool.acquire() as conn:
        await conn.execute(
            "UPDATE phone_verification SET sent_at = now() - make_interval(secs => $2) WHERE application_id = $1",
            application_id,
            seconds,
        )


def test_the_rules_of_a_resend() -> None:
    assert resend_refusal(resends=0, since_last_s=61, max_resends=3, interval_s=60) is None
    too_soon = resend_refusal(resends=0, since_last_s=15, max_resends=3, interval_s=60)
    assert too_soon is not None and (too_soon.code, too_soon.wait_s) == ("resend_too_soon", 45)
    used_up = resend_refusal(resends=3, since_last_s=600, max_resends=3, interval_s=60)
    assert used_up is not None and (used_up.code, used_up.wait_s) == ("resends_exhausted", 0)
    assert resend_refusal(resends=0, since_last_s=600, max_resends=0, interval_s=60) is not None


async def test_a_new_code_replaces_the_old_one_through_the_same_event(intake: Intake) -> None:
    application_id = await submit_online(intake)
    first = await intake.verification_code(application_id)

    too_soon = await resend(intake, application_id)
    assert (too_soon.status_code, too_soon.json()["error"]["code"]) == (429, "resend_too_soon")
    assert 1 <= int(too_soon.headers["Retry-After"]) <= 60
    assert len(await codes_sent(intake, application_id)) == 1

    # A wrong code first: the new code comes with its attempts afresh.
    assert (await verify(intake, application_id, f"{(int(first) + 1) % 1_000_000:06d}")).status_code == 422
    await sent_a_while_ago(intake, application_id)
    again = await resend(intake, application_id)
    assert again.status_code == 202, again.text
    assert again.json() == {
        "application_id": application_id,
        "status": "awaiting_verification",
        "valid_minutes": 10,
        "resends_left": 2,
        "next_resend_after_s": 60,
    }
    first_event, second_event = await codes_sent(intake, application_id)
    # The same event notify texts the first code from; the phone sealed as before, a code of its own.
    assert second_event.keys() == first_event.keys()
    assert second_event["sealed_phone"] == first_event["sealed_phone"]
    assert second_event["sealed_code"] != first_event["sealed_code"]
    # Nothing else: nothing reaches routing before the code.
    assert {e["type"] for e in await intake.events()} == {"phone_verification.requested"}
    new = opened(intake, second_event)
    if new != first:  # one chance in a million that the new code is the old one
        old = await verify(intake, application_id, first)
        assert old.status_code == 422, old.text
        assert old.json()["error"]["fields"][0]["reason"] == "wrong code; 4 attempts left"
    verified = await verify(intake, application_id, new)
    assert (verified.status_code, verified.json()["status"]) == (200, "submitted")

    # Verified: no code is waited for any more.
    await sent_a_while_ago(intake, application_id)
    done = await resend(intake, application_id)
    assert (done.status_code, done.json()["error"]["code"]) == (409, "not_awaiting_verification")


async def test_a_locked_or_expired_code_can_be_replaced_a_few_times_only(intake: Intake) -> None:
    application_id = await submit_online(intake)
    async with intake.context.pool.acquire() as conn:
        await conn.execute(
            "UPDATE phone_verification SET attempts = 5, expires_at = now() - interval '1 second' "
            "WHERE application_id = $1",
            application_id,
        )
    assert (await verify(intake, application_id, "000000")).status_code == 409
    for left in (2, 1, 0):
        await sent_a_while_ago(intake, application_id)
        answer = await resend(intake, application_id)
        assert (answer.status_code, answer.json()["resends_left"]) == (202, left), answer.text
    await sent_a_while_ago(intake, application_id)
    used_up = await resend(intake, application_id)
    assert (used_up.status_code, used_up.json()["error"]["code"]) == (409, "resends_exhausted")
    sent = await codes_sent(intake, application_id)
    assert len(sent) == 4  # the first and three more, never a fifth
    # The latest code has its own time and attempts: the lock of the first one is gone.
    verified = await verify(intake, application_id, opened(intake, sent[-1]))
    assert (verified.status_code, verified.json()["status"]) == (200, "submitted")


async def test_a_resend_needs_an_online_application_waiting_here(intake: Intake) -> None:
    unknown = await resend(intake, "00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404
    counter = await intake.client.post(
        "/applications", json={**ONLINE, "channel": "counter"}, headers=intake.operator()
    )
    no_code = await resend(intake, counter.json()["application_id"])
    assert no_code.status_code == 404  # a counter application never had a code
    assert (await intake.client.post("/applications/not-an-id/verification/resend")).status_code == 422


async def test_resends_are_limited_per_address_too(infra: Infra, database: str, silent_relay: None) -> None:
    settings = intake_settings(infra, database, rate_limit_window_s=10**8, rate_limit_resends=2)
    async with running_intake(settings) as intake:
        application_id = await submit_online(intake)
        answers = []
        for _ in range(3):
            await sent_a_while_ago(intake, application_id)
            answers.append(await resend(intake, application_id))
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        assert len(await codes_sent(intake, application_id)) == 3
