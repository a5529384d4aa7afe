"""The daily cap per phone number (verification codes included) and the one-time code's SMS, at the handler, on
the real database."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from prometheus_client import REGISTRY

from mpp_contracts.intake import VERIFICATION_CODE_PURPOSE, PhoneVerificationRequested
from mpp_kit.sealing import PHONE, seal
from notify.handlers import on_application_event, on_routing_decision
from tests.notify.conftest import CONTACT_KEY as KEY
from tests.notify.test_consent import routed


def code_requested(phone: str, code: str = "012345") -> PhoneVerificationRequested:
    application_id = uuid4()
    return PhoneVerificationRequested(
        application_id=application_id,
        site_id="loa-kulu",
        sealed_phone=seal(phone, KEY, purpose=PHONE, bound_to=application_id),
        sealed_code=seal(code, KEY, purpose=VERIFICATION_CODE_PURPOSE, bound_to=application_id),
        valid_minutes=10,
    )


def capped_total() -> float:
    return REGISTRY.get_sample_value("sms_capped_total", {"template": "kode_verifikasi"}) or 0.0


async def test_the_code_is_texted_at_once_and_is_the_only_digits_in_it(stack: Any) -> None:
    event = code_requested(stack.number("7101"), "004217")
    async with stack.pool.acquire() as conn, conn.transaction():
        await on_application_event(conn, event, stack.context)
    row = await stack.pool.fetchrow("SELECT * FROM sms_message WHERE event_id = $1", event.event_id)
    assert (row["status"], row["template"]) == ("created", "kode_verifikasi")
    assert row["body"] == "Kode verifikasi MPP: 004217. Berlaku 10 menit. Jangan berikan kepada siapa pun."


async def test_over_the_daily_cap_a_number_gets_nothing_more_and_it_is_recorded(stack: Any) -> None:
    cap = stack.context.settings.sms_daily_cap_per_phone
    phone, other = stack.number("7102"), stack.number("7103")
    before = capped_total()
    events = [code_requested(phone) for _ in range(cap + 3)]
    for event in events:
        async with stack.pool.acquire() as conn, conn.transaction():
            await on_application_event(conn, event, stack.context)
    statuses = [
        await stack.pool.fetchval("SELECT status FROM sms_message WHERE event_id = $1", e.event_id)
        for e in events
    ]
    assert statuses == ["created"] * cap + ["capped"] * 3
    capped = await stack.pool.fetch("SELECT * FROM sms_message WHERE status = 'capped'")
    assert all(r["phone_e164"] is None and r["body"] is None for r in capped)  # nothing kept to send
    assert await stack.published(capped[0]["id"]) == ["capped"]
    assert capped_total() == before + 3

    # Any SMS counts against the same cap; another number is not affected.
    async with stack.pool.acquire() as conn, conn.transaction():
        await on_routing_decision(conn, late := routed(phone), stack.context)
        await on_routing_decision(conn, fine := routed(other), stack.context)
    assert (
        await stack.pool.fetchval("SELECT status FROM sms_message WHERE event_id = $1", late.event_id)
        == "capped"
    )
    assert (
        await stack.pool.fetchval("SELECT status FROM sms_message WHERE event_id = $1", fine.event_id)
        == "created"
    )
    # The dispatcher sends only what is within the cap.
    dispatcher = stack.dispatcher()
    while await dispatcher.dispatch_once():
        pass
    assert len(await stack.sandbox_messages(to=phone)) == cap
