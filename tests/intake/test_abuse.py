"""Abuse and personal data at intake: online applications wait for the phone's one-time code, counter and kiosk
need a credential of the site, public endpoints are limited per client address (shared by replicas through the
database), tracking codes lock after wrong digits, closed applications are purged and one can be erased."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from intake.operations import request_hash
from intake.retention import Retention
from intake.schemas import ApplicationRequest
from mpp_devstack.infra import Infra
from tests.intake.conftest import OTHER_SITE_TOKEN, SERVICE, Intake, intake_settings, running_intake

APPLICANT = {"name": "Dewi Lestari", "nik": "6402024101900001", "phone": "0812-7000-4321"}
ONLINE = {"service_code": SERVICE, "channel": "online", "applicant": APPLICANT}
# A window no test run straddles: hits of one test all fall into one window.
LONG_WINDOW_S = 10**8


async def submit_online(intake: Intake, **headers: str) -> dict[str, Any]:
    response = await intake.client.post("/applications", json=ONLINE, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def verify(intake: Intake, application_id: str, code: str) -> Any:
    return await intake.client.post(f"/applications/{application_id}/verify", json={"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_an_online_application_is_routed_only_after_its_phone_code(intake: Intake) -> None:
    accepted = await submit_online(intake)
    assert (accepted["status"], accepted["queue_ticket"]) == ("awaiting_verification", None)
    [asked] = await intake.events()
    assert asked["type"] == "phone_verification.requested"  # nothing for routing, nothing texted but the code
    assert asked["sealed_code"].startswith("v2.") and "code" not in asked
    code = await intake.verification_code(accepted["application_id"])
    assert len(code) == 6 and code.isdigit()
    async with intake.context.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT code_hash FROM phone_verification")
    assert code not in stored  # only its HMAC is kept

    refused = await verify(intake, accepted["application_id"], wrong(code))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["fields"] == [{"field": "code", "reason": "wrong code; 4 attempts left"}]
    assert [e["type"] for e in await intake.events()] == ["phone_verification.requested"]

    verified = await verify(intake, accepted["application_id"], code)
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "submitted"
    types = [e["type"] for e in await intake.events()]
    assert types == ["phone_verification.requested", "application.submitted"]
    again = await verify(intake, accepted["application_id"], code)  # a retried request: the same answer
    assert (again.status_code, again.json()) == (200, verified.json())
    assert len(await intake.events()) == 2

    tracked = await intake.client.post(
        "/applications/track", json={"tracking_code": accepted["tracking_code"], "phone_last4": "4321"}
    )
    assert [s["status"] for s in tracked.json()["history"]] == ["awaiting_verification", "submitted"]


async def test_a_code_locks_after_five_wrong_tries_and_expires(intake: Intake) -> None:
    first = await submit_online(intake)
    code = await intake.verification_code(first["application_id"])
    for _ in range(5):
        assert (await verify(intake, first["application_id"], wrong(code))).status_code == 422
    locked = await verify(intake, first["application_id"], code)
    assert (locked.status_code, locked.json()["error"]["code"]) == (409, "verification_locked")

    second = await submit_online(intake)
    async with intake.context.pool.acquire() as conn:
        await conn.execute("UPDATE phone_verification SET expires_at = now() - interval '1 second'")
    expired = await verify(
        intake, second["application_id"], await intake.verification_code(second["application_id"])
    )
    assert (expired.status_code, expired.json()["error"]["code"]) == (409, "verification_expired")
    assert not [e for e in await intake.events() if e["type"] == "application.submitted"]


@pytest.mark.parametrize("channel", ["counter", "kiosk"])
async def test_counter_and_kiosk_need_an_operator_token_of_this_site(intake: Intake, channel: str) -> None:
    body = {**ONLINE, "channel": channel}
    anonymous = await intake.client.post("/applications", json=body)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthorized")
    unknown = await intake.client.post("/applications", json=body, headers=intake.operator("nobody"))
    assert unknown.status_code == 401
    elsewhere = await intake.client.post(
        "/applications", json=body, headers=intake.operator(OTHER_SITE_TOKEN)
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (403, "forbidden")
    assert (
        await intake.client.post("/applications", json=body, headers=intake.operator())
    ).status_code == 201
    assert [e["type"] for e in await intake.events()] == ["application.submitted"]


async def test_public_endpoints_are_limited_per_address_across_two_replicas(
    infra: Infra, database: str, silent_relay: None
) -> None:
    settings = intake_settings(
        infra,
        database,
        rate_limit_window_s=LONG_WINDOW_S,
        rate_limit_submits=3,
        rate_limit_tracking=4,
        rate_limit_verifications=2,
    )
    async with running_intake(settings) as first, running_intake(settings) as second:
        replicas = (first, second)
        answers = [await replicas[i % 2].client.post("/applications", json=ONLINE) for i in range(8)]
        assert Counter(a.status_code for a in answers) == {201: 3, 429: 5}
        throttled = answers[-1]
        assert throttled.json()["error"]["code"] == "rate_limited"
        assert int(throttled.headers["Retry-After"]) >= 1
        # The site's operators are not throttled (counter work is authenticated, not public).
        counter = await first.client.post(
            "/applications", json={**ONLINE, "channel": "counter"}, headers=first.operator()
        )
        assert counter.status_code == 201

        tracking = {"tracking_code": "AAAA-BBBB", "phone_last4": "0000"}
        looks = [await replicas[i % 2].client.post("/applications/track", json=tracking) for i in range(6)]
        assert [a.status_code for a in looks].count(429) >= 2

        application_id = answers[0].json()["application_id"]
        tries = [
            await replicas[i % 2].client.post(
                f"/applications/{application_id}/verify", json={"code": "000000"}
            )
            for i in range(3)
        ]
        assert tries[-1].status_code == 429
        async with first.context.pool.acquire() as conn:
            buckets = await conn.fetch("SELECT bucket FROM rate_limit_window")
        assert all("127.0.0.1" not in row["bucket"] for row in buckets)  # addresses kept as HMACs


async def test_a_tracking_code_locks_after_wrong_phone_digits(intake: Intake) -> None:
    accepted = (
        await intake.client.post(
            "/applications", json={**ONLINE, "channel": "counter"}, headers=intake.operator()
        )
    ).json()

    async def track(digits: str, code: str = accepted["tracking_code"]) -> Any:
        return await intake.client.post(
            "/applications/track", json={"tracking_code": code, "phone_last4": digits}
        )

    assert (await track("4321")).status_code == 200
    for digits in ("0000", "1111", "2222", "3333", "4444"):
        assert (await track(digits)).status_code == 404
    locked = await track("4321")  # the right digits, too late
    assert (locked.status_code, locked.json()["error"]["code"]) == (429, "tracking_locked")
    assert int(locked.headers["Retry-After"]) > 60
    # A code no application has locks the same way: the lock tells nothing about existence.
    for digits in ("0000", "1111", "2222", "3333", "4444"):
        assert (await track(digits, "ZZZZ-ZZZZ")).status_code == 404
    assert (await track("0000", "ZZZZ-ZZZZ")).status_code == 429


async def test_the_idempotency_hash_is_keyed() -> None:
    body = ApplicationRequest.model_validate({**ONLINE, "channel": "counter"})
    assert request_hash(body, b"one key") != request_hash(body, b"another key")
    assert request_hash(body, b"one key") == request_hash(body, b"one key")


async def test_closed_applications_are_purged_after_the_period_and_one_can_be_erased(intake: Intake) -> None:
    def counter_submit() -> Any:
        return intake.client.post(
            "/applications", json={**ONLINE, "channel": "counter"}, headers=intake.operator()
        )

    closed, still_open, erased = [(await counter_submit()).json()["application_id"] for _ in range(3)]
    keyed = await intake.client.post(
        "/applications",
        json={**ONLINE, "channel": "counter"},
        headers={**intake.operator(), "Idempotency-Key": "an-old-key"},
    )
    assert keyed.status_code == 201
    for application_id in (closed, erased):
        cancelled = await intake.client.post(
            f"/applications/{application_id}/cancel",
            json={"reason": "tidak jadi"},
            headers=intake.supervisor(),
        )
        assert cancelled.status_code == 200, cancelled.text
    async with intake.context.pool.acquire() as conn:
        await conn.execute(
            "UPDATE application SET updated_at = now() - interval '100 days' WHERE id = ANY($1::uuid[])",
            [closed, still_open],
        )
        await conn.execute("UPDATE idempotency_key SET created_at = now() - interval '2 days'")

    assert await Retention(intake.context.settings).once(intake.context.pool) == 1
    async with intake.context.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM idempotency_key") == 0  # expired keys swept
        rows = {
            str(r["id"]): r
            for r in await conn.fetch("SELECT id, applicant_name, nik_sealed, phone_sealed FROM application")
        }
    assert (rows[closed]["applicant_name"], rows[closed]["nik_sealed"], rows[closed]["phone_sealed"]) == (
        "",
        None,
        "",
    )
    assert rows[still_open]["applicant_name"] == APPLICANT["name"]  # open: kept however old
    assert rows[erased]["applicant_name"] == APPLICANT["name"]  # closed, but not for long

    # Erasure on request: an open application first has to be cancelled.
    refused = await intake.client.post(
        f"/applications/{still_open}/erase",
        json={"reason": "permintaan pemohon"},
        headers=intake.supervisor(),
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "application_open")
    done = await intake.client.post(
        f"/applications/{erased}/erase", json={"reason": "permintaan pemohon"}, headers=intake.supervisor()
    )
    assert done.status_code == 200, done.text
    view = done.json()
    assert (view["applicant_name"], view["nik_last4"], view["phone_last4"]) == ("", None, "")
    assert view["history"][-1]["note"] == "data pribadi dihapus: permintaan pemohon"
    assert view["history"][-1]["changed_by"] == "sari"
    anonymous = await intake.client.post(
        f"/applications/{erased}/erase", json={"reason": "permintaan pemohon"}
    )
    assert anonymous.status_code == 401
