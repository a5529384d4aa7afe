"""Notify: `uvicorn --factory notify.app:create_app` (settings from the environment).

``create_app`` builds everything: the runtime (pool, migrations, broker, outbox relay), the consumers of the
routing decisions and intake's status changes, the SMS providers (one HTTP client, closed on stop), the
dispatcher (started and stopped with the runtime) and the HTTP API.

The dispatcher sends nothing before the HTTP server listens, so that the delivery report of a message has
somewhere to go. Uvicorn runs the lifespan startup *before* it binds its socket, and tells the app nothing
when it has; the first HTTP request the app serves (a readiness probe, a report) is the proof. ``FirstRequest``
notes it; without one within ``SMS_DISPATCH_START_WAIT_S`` (no probes configured) sending starts anyway.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from mpp_contracts.intake import ApplicationEvent
from mpp_contracts.routing import DecisionEvent
from mpp_contracts.topics import INTAKE_APPLICATION, NOTIFY_SMS, ROUTING_DECISION
from mpp_kit import http
from mpp_kit.runtime import ServiceRuntime
from notify import api, domain, handlers
from notify.context import NotifyContext
from notify.dispatch import Dispatcher, Housekeeping
from notify.domain import RetryPolicy
from notify.providers.factory import build_selector
from notify.providers.selection import ProviderSelector
from notify.quiet_hours import QuietHours
from notify.settings import NotifySettings, parse_quiet_hours
from notify.sweeps import SweepPolicy

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime(
        settings, migrations=MIGRATIONS, topics=[INTAKE_APPLICATION, ROUTING_DECISION, NOTIFY_SMS]
    )
    provider_client = httpx.AsyncClient(event_hooks={"request": [http.inject_trace_context]})
    selector = build_selector(settings, provider_client)
    quiet = QuietHours.of(
        parse_quiet_hours(settings.sms_quiet_hours), settings.sms_quiet_hours_tz, settings.urgent_templates
    )
    ctx = NotifyContext(settings, quiet)

    runtime.consume(ROUTING_DECISION, DecisionEvent, name="notify-routing")(
        partial(handlers.on_routing_decision, ctx=ctx)
    )
    runtime.consume(INTAKE_APPLICATION, ApplicationEvent, name="notify-intake", concerns=domain.may_text)(
        partial(handlers.on_application_event, ctx=ctx)
    )

    served = asyncio.Event()

    @runtime.on_start
    async def start_dispatcher() -> None:
        ctx.pool = runtime.pool
        ctx.dispatcher = dispatcher_of(settings, runtime.pool, selector, quiet)
        await ctx.dispatcher.start(serving=partial(first_request, served, settings.sms_dispatch_start_wait_s))

    @runtime.on_stop
    async def stop_dispatcher() -> None:
        if ctx.dispatcher is not None:
            await ctx.dispatcher.stop()
        await provider_client.aclose()

    runtime.readiness_check("dispatcher", lambda: ctx.dispatcher is not None and ctx.dispatcher.running)

    app = http.create_app(
        "Mini MPP notify",
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness,
        settings=settings,
    )
    app.add_middleware(FirstRequest, served=served)
    app.state.context = ctx
    for router in api.routers:
        app.include_router(router)
    return app


class FirstRequest:
    """ASGI middleware: sets ``served`` at the first HTTP request, the proof that the server listens."""

    def __init__(self, app: ASGIApp, served: asyncio.Event) -> None:
        self.app = app
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.served.set()
        await self.app(scope, receive, send)


async def first_request(served: asyncio.Event, wait_s: float) -> None:
    try:
        await asyncio.wait_for(served.wait(), wait_s)
    except TimeoutError:
        log.warning("no HTTP request served yet; sending SMS anyway", extra={"waited_s": wait_s})


def dispatcher_of(
    settings: NotifySettings, pool: asyncpg.Pool, selector: ProviderSelector, quiet: QuietHours
) -> Dispatcher:
    return Dispatcher(
        pool,
        selector,
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
            reconcile_interval_s=settings.sms_reconcile_interval_s,
            reconcile_after_s=settings.sms_reconcile_after_s,
        ),
    )
