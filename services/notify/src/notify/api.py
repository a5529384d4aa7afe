"""Notify's HTTP API: delivery-report webhooks (our JSON batch format, Twilio's status callback) and the ops
read API. Routes only authenticate, parse and answer; ``reports.py`` and ``repository.py`` do the work."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mpp_contracts.notify import SmsStatus
from mpp_kit import http
from mpp_kit.auth import bearer
from mpp_kit.errors import error_responses, forbidden, invalid, not_found
from mpp_kit.models import NUL_REASON, ApiModel
from mpp_kit.phone import mask_msisdn
from notify import reports, repository
from notify.context import NotifyContext
from notify.domain import unconfirmed_since
from notify.providers.base import as_int
from notify.providers.mapping import map_report_status, map_twilio_status
from notify.providers.twilio import REFERENCE_PARAM, SIGNATURE_HEADER, valid_signature

__all__ = ["ops", "routers", "webhooks"]


def context(request: Request) -> NotifyContext:
    return cast(NotifyContext, request.app.state.context)


Ctx = Annotated[NotifyContext, Depends(http.app_context(NotifyContext))]

provider_token = bearer(
    lambda request: {context(request).settings.delivery_report_token.get_secret_value(): "provider"},
    scheme_name="deliveryReportToken",
    description="the delivery-report webhook token (DELIVERY_REPORT_TOKEN)",
)
ops_token = bearer(
    lambda request: {context(request).settings.notify_ops_token.get_secret_value(): "ops"},
    scheme_name="notifyOpsToken",
    description="the notify ops token (NOTIFY_OPS_TOKEN)",
)

webhooks = APIRouter(tags=["webhooks"])
ops = APIRouter(tags=["ops"], dependencies=[Depends(ops_token)])
routers = (webhooks, ops)

# ------------------------------------------------------------------ our JSON batch webhook


class DeliveryReport(ApiModel):
    reference: str | None = Field(
        default=None, max_length=100, description="our message id, given to the provider when sending"
    )
    provider_message_id: str | None = Field(
        default=None, max_length=200, description="the provider's id (used without reference)"
    )
    status: str = Field(
        max_length=50,
        description="accepted, sent, delivered, undelivered, expired, failed or rejected; "
        "anything else is recorded as a technical failure",
    )
    error_code: str | None = Field(default=None, max_length=100)


class DeliveryReports(ApiModel):
    reports: list[DeliveryReport] = Field(max_length=1000)


class ReportsAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    applied: int = Field(description="how many messages changed status")


@webhooks.post(
    "/delivery-reports",
    dependencies=[Depends(provider_token)],
    responses=error_responses(400, 401, 413, 422, 503),
)
async def delivery_reports(body: DeliveryReports, ctx: Ctx) -> ReportsAccepted:
    """Delivery reports in batches, matched by our reference or else by the provider's id. Duplicates,
    late reports and unknown ids are answered 200 too; a final status is never overwritten. While the database
    cannot be reached: 503 with Retry-After, so that the provider posts the reports again."""
    batch = [
        reports.Report(r.reference, r.provider_message_id, map_report_status(r.status), r.error_code)
        for r in body.reports
    ]
    return ReportsAccepted(applied=await ctx.delivery_reports.run(batch))


# ------------------------------------------------------------------ Twilio's status callback

_TWILIO_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {"type": "string"}
        for name in ("MessageSid", "MessageStatus", "ErrorCode", "SmsSid", "SmsStatus", "AccountSid")
    },
    "additionalProperties": {"type": "string"},
}


def _signed_urls(request: Request, public_url: str | None) -> list[str]:
    """The URL Twilio signed: our configured public callback URL (we may sit behind a proxy) with the query
    string of this request, and the URL as this process saw it."""
    urls = []
    if public_url:
        parts = urlsplit(public_url)
        urls.append(urlunsplit((parts.scheme, parts.netloc, parts.path, request.url.query, "")))
    urls.append(str(request.url))
    return urls


def _refuse_nul(params: list[tuple[str, str]]) -> None:
    for name, value in params:
        if "\x00" in name or "\x00" in value:
            raise invalid(name.replace("\x00", "") or "body", NUL_REASON)


@webhooks.post(
    "/delivery-reports/twilio",
    response_class=Response,
    responses={
        200: {
            "description": "Applied, or a duplicate, a late report or an unknown message (nothing changed)"
        },
        **error_responses(403, 413, 422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _TWILIO_FORM}},
        }
    },
)
async def twilio_status_callback(
    request: Request,
    ctx: Ctx,
    reference: Annotated[
        str | None, Query(alias=REFERENCE_PARAM, description="our message id, from the StatusCallback URL")
    ] = None,
    twilio_signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            description="base64 HMAC-SHA1 of the URL and the sorted form, keyed with TWILIO_AUTH_TOKEN",
        ),
    ] = None,
) -> Response:
    """Twilio's StatusCallback (form-encoded MessageSid, MessageStatus, ErrorCode; our id in ``reference``),
    authenticated by ``X-Twilio-Signature`` (403 without a valid one). Answers 200 to duplicates and unknown
    ids; a form field holding the NUL character is refused (422); 503 with Retry-After while the database
    cannot be reached."""
    params = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    settings = ctx.settings
    signed = _signed_urls(request, settings.sms_status_callback_url)
    if not valid_signature(settings.twilio_auth_token.get_secret_value(), signed, params, twilio_signature):
        raise forbidden(f"missing or invalid {SIGNATURE_HEADER}")
    _refuse_nul(params)
    form = dict(params)
    twilio_status = form.get("MessageStatus") or form.get("SmsStatus")
    if twilio_status:
        error_code = form.get("ErrorCode") or None
        report = reports.Report(
            reference,
            form.get("MessageSid") or form.get("SmsSid") or None,
            map_twilio_status(twilio_status, as_int(error_code)),
            error_code,
        )
        await ctx.delivery_reports.run([report])
    return Response(status_code=200)


# ------------------------------------------------------------------ ops read API


class MessageView(BaseModel):
    """One SMS as ops see it: never the phone number in full, never the body."""

    id: UUID
    application_id: UUID | None
    template: str
    template_version: int
    status: SmsStatus | Literal["declined"]  # declined: the applicant said no to SMS, nothing was sent
    segments: int
    provider: str | None
    provider_message_id: str | None
    attempts: int
    last_error: str | None
    phone_masked: str | None = Field(description="e.g. +62*******001; null once purged")
    purged_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when a `created` message is due")
    unconfirmed_since: datetime | None = Field(
        description="set while the message is unconfirmed: its provider call started then and may have reached "
        "the provider, but no answer, delivery report or lookup confirmed it since. It is not sent again "
        "automatically; after 72 hours it ends `temporary_failure`"
    )
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
            unconfirmed_since=unconfirmed_since(row["status"], row["call_started_at"], row["confirmed_at"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class MessageList(BaseModel):
    messages: list[MessageView]


@ops.get("/messages/{message_id}", responses=error_responses(401, 404, 422, 503))
async def get_message(message_id: UUID, ctx: Ctx) -> MessageView:
    """One SMS: status, template, segments, provider, timestamps (phone masked, no body)."""
    async with ctx.db.acquire() as conn:
        row = await repository.message_for_ops(conn, message_id)
    if row is None:
        raise not_found("no SMS with this id")
    return MessageView.of(row)


@ops.get("/messages", responses=error_responses(401, 422, 503))
async def list_messages(
    ctx: Ctx,
    application_id: Annotated[UUID | None, Query(description="the SMS of one application")] = None,
    status: Annotated[SmsStatus | Literal["declined"] | None, Query(description="in this status")] = None,
    unconfirmed_for_s: Annotated[
        float | None,
        Query(
            ge=0,
            le=10 * 86400,
            description="only unconfirmed messages (see `unconfirmed_since`) whose provider call started at "
            "least this many seconds ago",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessageList:
    """SMS matching every filter given, oldest first: e.g. `?application_id=` for one application's, or
    `?unconfirmed_for_s=600` for those a provider may or may not have had for ten minutes and more."""
    async with ctx.db.acquire() as conn:
        rows = await repository.messages_for_ops(
            conn,
            application_id=application_id,
            status=status,
            unconfirmed_for_s=unconfirmed_for_s,
            limit=limit,
        )
    return MessageList(messages=[MessageView.of(r) for r in rows])
