"""Notify: `uvicorn notify.main:app`."""

from __future__ import annotations

from pathlib import Path

import httpx
from mpp_contracts.topics import INTAKE_APPLICATION, NOTIFY_SMS, ROUTING_DECISION
from mpp_kit.http import create_app, inject_trace_context
from mpp_kit.runtime import ServiceRuntime

from notify import handlers
from notify.api import add_webhook
from notify.dispatch import Dispatcher
from notify.providers.base import SmsProvider
from notify.providers.twilio import TwilioProvider
from notify.settings import NotifySettings

settings = NotifySettings()
runtime = ServiceRuntime(
    settings,
    migrations=Path(__file__).parent / "migrations",
    topics=[INTAKE_APPLICATION, ROUTING_DECISION, NOTIFY_SMS],
)
http_client = httpx.AsyncClient(event_hooks={"request": [inject_trace_context]})
dispatcher: Dispatcher | None = None


def build_provider() -> SmsProvider:
    if settings.sms_provider == "twilio":
        return TwilioProvider(
            http_client,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_=settings.twilio_from,
            status_callback_url=settings.sms_status_callback_url,
            base_url=settings.twilio_base_url,
        )
    raise RuntimeError(f"unknown SMS_PROVIDER {settings.sms_provider!r}")


@runtime.on_start
async def _start_dispatcher() -> None:
    global dispatcher
    dispatcher = Dispatcher(
        runtime.pool,
        build_provider(),
        max_attempts=settings.sms_send_attempts,
        interval_s=settings.sms_dispatch_interval_s,
    )
    await dispatcher.start()


@runtime.on_stop
async def _stop_dispatcher() -> None:
    if dispatcher is not None:
        await dispatcher.stop()
    await http_client.aclose()


handlers.register(
    runtime,
    lambda: settings.contact_sealing_key.get_secret_value(),
    lambda: dispatcher.wake() if dispatcher else None,
)
runtime.readiness_check("dispatcher", lambda: dispatcher is not None and dispatcher.running)

app = create_app("Mini MPP notify", lifespan=runtime.lifespan(), readiness=runtime.readiness)
add_webhook(app, lambda: runtime.pool, lambda: settings.delivery_report_token.get_secret_value())
