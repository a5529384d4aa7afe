"""Notify: `uvicorn notify.main:app`."""

from __future__ import annotations

from pathlib import Path

import httpx

from mpp_contracts.topics import INTAKE_APPLICATION, NOTIFY_SMS, ROUTING_DECISION
from mpp_kit.http import create_app, inject_trace_context
from mpp_kit.runtime import ServiceRuntime
from notify import handlers
from notify.api import add_ops_api, add_twilio_webhook, add_webhook
from notify.dispatch import Dispatcher, Housekeeping, RetryPolicy
from notify.providers.factory import build_selector
from notify.quiet_hours import QuietHours
from notify.settings import NotifySettings, parse_quiet_hours
from notify.sweeps import SweepPolicy

settings = NotifySettings()
runtime = ServiceRuntime(
    settings,
    migrations=Path(__file__).parent / "migrations",
    topics=[INTAKE_APPLICATION, ROUTING_DECISION, NOTIFY_SMS],
)
http_client = httpx.AsyncClient(event_hooks={"request": [inject_trace_context]})
quiet = QuietHours.of(
    parse_quiet_hours(settings.sms_quiet_hours), settings.sms_quiet_hours_tz, settings.urgent_templates
)
dispatcher: Dispatcher | None = None


@runtime.on_start
async def _start_dispatcher() -> None:
    global dispatcher
    dispatcher = Dispatcher(
        runtime.pool,
        build_selector(settings, http_client),
        interval_s=settings.sms_dispatch_interval_s,
        retry=RetryPolicy(settings.sms_send_attempts, settings.sms_retry_base_s, settings.sms_retry_max_s),
        concurrency=settings.sms_dispatch_concurrency,
        quiet=quiet,
        housekeeping=Housekeeping(
            sweep_interval_s=settings.sms_sweep_interval_s,
            sweeps=SweepPolicy(
                stuck_after_s=settings.sms_created_stuck_after_s,
                created_max_age_s=settings.sms_created_max_age_s,
                stale_after_s=settings.sms_stale_after_s,
                stale_statuses=settings.stale_statuses,
            ),
            retention_days=settings.sms_retention_days,
            retention_interval_s=settings.sms_retention_interval_s,
        ),
        crash_after_provider_call=settings.notify_crash_after_provider_call,
    )
    await dispatcher.start()


@runtime.on_stop
async def _stop_dispatcher() -> None:
    if dispatcher is not None:
        await dispatcher.stop()
    await http_client.aclose()


handlers.register(
    runtime,
    handlers.Context(
        contact_key=lambda: settings.contact_sealing_key.get_secret_value(),
        wake=lambda: dispatcher.wake() if dispatcher else None,
        quiet=quiet,
    ),
)
runtime.readiness_check("dispatcher", lambda: dispatcher is not None and dispatcher.running)

app = create_app("Mini MPP notify", lifespan=runtime.lifespan(), readiness=runtime.readiness)
add_webhook(app, lambda: runtime.pool, lambda: settings.delivery_report_token.get_secret_value())
add_twilio_webhook(
    app,
    lambda: runtime.pool,
    lambda: settings.twilio_auth_token.get_secret_value(),
    lambda: settings.sms_status_callback_url,
)
add_ops_api(app, lambda: runtime.pool, lambda: settings.notify_ops_token.get_secret_value())
