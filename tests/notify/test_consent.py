"""Consent and the one-SMS-per-(event, template) rule at the handler, on the real database; the consent field
in the contracts and the intake request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from intake.schemas import ApplicationRequest
from mpp_contracts.intake import ApplicationSubmitted
from mpp_contracts.routing import ApplicationRouted
from mpp_kit.sealing import PHONE, seal
from notify.context import NotifyContext
from notify.handlers import on_routing_decision
from notify.quiet_hours import QuietHours
from tests.notify.conftest import CONTACT_KEY as KEY


def routed(phone: str = "+6281255550001", **changes: Any) -> ApplicationRouted:
    application_id = changes.pop("application_id", uuid4())
    values: dict[str, Any] = {
        "application_id": application_id,
        "tracking_code": "KKR-7F3K-9Q2M",
        "origin_site_id": "loa-kulu",
        "origin_site_name": "Mini MPP Kecamatan Loa Kulu",
        "service_code": "DUKCAPIL-AKTA-LAHIR",
        "service_name": "Penerbitan Akta Kelahiran",
        "outcome": "local",
        "expected_completion": date(2026, 12, 7),
        "applicant_first_name": "Siti",
        "sealed_phone": seal(phone, KEY, purpose=PHONE, bound_to=application_id),
    }
    return ApplicationRouted(**{**values, **changes})


async def handle(stack: Any, event: ApplicationRouted, ctx: NotifyContext | None = None) -> Any:
    """Run notify's handler for ``event`` (as its consumer would) and return the id of the SMS it stored."""
    async with stack.pool.acquire() as conn, conn.transaction():
        await on_routing_decision(conn, event, ctx or stack.context)
        found: Any = await conn.fetchval(
            "SELECT id FROM sms_message WHERE event_id = $1 ORDER BY created_at DESC LIMIT 1", event.event_id
        )
        return found


async def test_declined_sms_is_recorded_as_declined_and_never_sent(stack: Any) -> None:
    event = routed(sms_consent=False)
    message_id = await handle(stack, event)
    row = await stack.row(message_id)
    assert row["status"] == "declined" and row["last_error"] == "the applicant declined SMS"
    assert row["phone_e164"] is None and row["body"] is None  # nothing kept that is not needed
    assert row["template"] == "permohonan_diterima" and row["application_id"] == event.application_id
    assert await stack.published(message_id) == []  # not an SMS status: nothing on notify.sms.v1
    assert await stack.dispatcher().dispatch_once() == 0
    # a late report or a sweep never moves it
    await stack.client.post(
        "/delivery-reports",
        json={"reports": [{"reference": str(message_id), "status": "delivered"}]},
        headers={"Authorization": f"Bearer {stack.REPORT_TOKEN}"},
    )
    assert await stack.status(message_id) == "declined"
    assert await handle(stack, event) == message_id  # replayed: still one row
    assert await stack.pool.fetchval("SELECT count(*) FROM sms_message") == 1


async def test_consenting_applicant_gets_one_sms_per_event_and_template(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = routed()
    woken: list[int] = []
    monkeypatch.setattr(stack.context, "wake", lambda: woken.append(1))
    message_id = await handle(stack, event)
    assert await stack.status(message_id) == "created" and woken == [1]
    assert await handle(stack, event) == message_id  # the same event again (a replay past the inbox)
    assert await stack.pool.fetchval("SELECT count(*) FROM sms_message") == 1


async def test_quiet_hours_defer_the_first_send(stack: Any) -> None:
    now = datetime.now(UTC).astimezone(QuietHours().zone)
    window = (
        (now - timedelta(hours=1)).time(),
        (now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    quiet = QuietHours.of(window)
    message_id = await handle(stack, routed(), replace(stack.context, quiet=quiet))
    row = await stack.row(message_id)
    assert row["status"] == "created" and row["next_attempt_at"] == quiet.quiet_until(datetime.now(UTC))


def test_consent_defaults_to_true_in_events_and_requests() -> None:
    old_event = routed().model_dump(mode="json")
    del old_event["sms_consent"]
    assert ApplicationRouted.model_validate(old_event).sms_consent is True
    submitted = {
        "application_id": str(uuid4()),
        "tracking_code": "X",
        "site_id": "loa-kulu",
        "service_code": "S",
        "channel": "counter",
        "applicant_first_name": "Siti",
        "sealed_phone": "v1.x",
        "submitted_on": "2026-12-07",
    }
    assert ApplicationSubmitted.model_validate(submitted).sms_consent is True
    assert ApplicationSubmitted.model_validate({**submitted, "sms_consent": False}).sms_consent is False
    applicant = {"name": "Siti Aminah", "nik": "6402024101900001", "phone": "081234560001"}
    assert (
        ApplicationRequest.model_validate({"service_code": "S-1", "applicant": applicant}).sms_consent is True
    )
    declined = ApplicationRequest.model_validate(
        {"service_code": "S-1", "applicant": applicant, "sms_consent": False}
    )
    assert declined.sms_consent is False
    with pytest.raises(ValueError):
        ApplicationRequest.model_validate(
            {"service_code": "S-1", "applicant": applicant, "sms_consent": "maybe"}
        )
