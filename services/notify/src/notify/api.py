"""Notify's HTTP API: delivery-report webhooks (our JSON batch format, Twilio's status callback) and the ops
read API. Routes only authenticate, parse and answer; ``reports.py`` and ``messages.py`` do the work."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from uuid import UUID

import asyncpg
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from mpp_kit.errors import ApiError
from mpp_kit.phone import mask_msisdn
from notify import messages, reports
from notify.providers.base import as_int
from notify.providers.mapping import map_report_status, map_twilio_status
from notify.providers.twilio import SIGNATURE_HEADER, valid_signature

Getter = Callable[[], str]


def _bearer(token: Getter, what: str) -> Callable[[str | None], None]:
    def check(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = token()
        if not expected or not authorization or not hmac.compare_digest(authorization, f"Bearer {expected}"):
            raise ApiError(401, "unauthorized", f"a valid bearer token is required ({what})")

    return check


# ------------------------------------------------------------------ our JSON batch webhook


class DeliveryReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str | None = Field(
        default=None, description="our message id, given to the provider when sending"
    )
    provider_message_id: str | None = Field(
        default=None, description="the provider's id (used without reference)"
    )
    status: str
    error_code: str | None = None


class DeliveryReports(BaseModel):
    reports: list[DeliveryReport] = Field(max_length=1000)


class ReportsAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    applied: int


def add_webhook(app: FastAPI, pool: Callable[[], asyncpg.Pool], token: Getter) -> None:
    @app.post("/delivery-reports", tags=["webhooks"], dependencies=[Depends(_bearer(token, "webhook"))])
    async def delivery_reports(body: DeliveryReports) -> ReportsAccepted:
        """Delivery reports in batches, matched by our reference or else by the provider's id. Duplicates,
        late reports and unknown ids are answered 200 too; a final status is never overwritten."""
        applied = 0
        async with pool().acquire() as conn, conn.transaction():
            for report in body.reports:
                applied += await reports.apply_report(
                    conn,
                    reference=report.reference,
                    provider_message_id=report.provider_message_id,
                    status=map_report_status(report.status),
                    error=report.error_code,
                )
        return ReportsAccepted(applied=applied)


# ------------------------------------------------------------------ Twilio's status callback


def _signed_urls(request: Request, public_url: str | None) -> list[str]:
    """The URL Twilio signed: our configured public callback URL (we may sit behind a proxy) with the query
    string of this request, and the URL as this process saw it."""
    urls = []
    if public_url:
        parts = urlsplit(public_url)
        urls.append(urlunsplit((parts.scheme, parts.netloc, parts.path, request.url.query, "")))
    urls.append(str(request.url))
    return urls


def add_twilio_webhook(
    app: FastAPI, pool: Callable[[], asyncpg.Pool], auth_token: Getter, public_url: Callable[[], str | None]
) -> None:
    @app.post("/delivery-reports/twilio", tags=["webhooks"], response_class=Response)
    async def twilio_status_callback(request: Request, reference: str | None = None) -> Response:
        """Twilio's StatusCallback (form-encoded MessageSid, MessageStatus, ErrorCode; our id in ``reference``),
        authenticated by ``X-Twilio-Signature``. Answers 200 to duplicates and unknown ids."""
        raw = (await request.body()).decode("utf-8", "replace")
        params = parse_qsl(raw, keep_blank_values=True)
        if not valid_signature(
            auth_token(), _signed_urls(request, public_url()), params, request.headers.get(SIGNATURE_HEADER)
        ):
            raise ApiError(403, "forbidden", f"missing or invalid {SIGNATURE_HEADER}")
        form = dict(params)
        twilio_status = form.get("MessageStatus") or form.get("SmsStatus")
        if twilio_status:
            error_code = form.get("ErrorCode") or None
            async with pool().acquire() as conn, conn.transaction():
                await reports.apply_report(
                    conn,
                    reference=reference,
                    provider_message_id=form.get("MessageSid") or form.get("SmsSid") or None,
                    status=map_twilio_status(twilio_status, as_int(error_code)),
                    error=error_code,
                )
        return Response(status_code=200)


# ------------------------------------------------------------------ ops read API


class MessageView(BaseModel):
    """One SMS as ops see it: never the phone number in full, never the body."""

    id: UUID
    application_id: UUID | None
    template: str
    template_version: int
    status: str
    segments: int
    provider: str | None
    provider_message_id: str | None
    attempts: int
    last_error: str | None
    phone_masked: str | None = Field(description="e.g. +62*******001; null once purged")
    purged_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when a `created` message is due")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> MessageView:
        phone = row["phone_e164"]
        return cls(
            id=row["id"],
            application_id=row["application_id"],
            template=row["template"],
            template_version=row["template_version"],
            status=row["status"],
            segments=row["segments"],
            provider=row["provider"],
            provider_message_id=row["provider_message_id"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            phone_masked=mask_msisdn(phone) if phone else None,
            purged_at=row["purged_at"],
            next_attempt_at=row["next_attempt_at"] if row["status"] == "created" else None,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class MessageList(BaseModel):
    messages: list[MessageView]


def add_ops_api(app: FastAPI, pool: Callable[[], asyncpg.Pool], token: Getter) -> None:
    authorized = [Depends(_bearer(token, "ops"))]

    @app.get("/messages/{message_id}", tags=["ops"], dependencies=authorized)
    async def get_message(message_id: UUID) -> MessageView:
        """One SMS: status, template, segments, provider, timestamps (phone masked, no body)."""
        async with pool().acquire() as conn:
            row = await messages.get(conn, message_id)
        if row is None:
            raise ApiError(404, "not_found", "no SMS with this id")
        return MessageView.of(row)

    @app.get("/messages", tags=["ops"], dependencies=authorized)
    async def list_messages(
        application_id: UUID, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> MessageList:
        """The SMS of one application, oldest first."""
        async with pool().acquire() as conn:
            rows = await messages.for_application(conn, application_id, limit)
        return MessageList(messages=[MessageView.of(r) for r in rows])
