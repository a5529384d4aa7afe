"""Intake's HTTP API: submit an application and track it (public); the site's working day for its operators:
the queue, expected arrivals, search, one application with its history, and moving it on."""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from intake import operations
from intake.context import IntakeContext
from intake.domain import TRACKING_CODE_PATTERN
from intake.schemas import (
    AgencyCode,
    ApplicationAccepted,
    ApplicationRequest,
    ApplicationSummary,
    ApplicationTracking,
    ApplicationView,
    Cancellation,
    ChangeRequested,
    ReadyMark,
    RescheduleRequest,
    StatusChange,
)
from intake.settings import Operator
from mpp_contracts.catalog import SiteState
from mpp_contracts.intake import ApplicationChannel, ApplicationStatus
from mpp_kit.auth import bearer
from mpp_kit.errors import error_responses, unavailable


def context(request: Request) -> IntakeContext:
    return cast(IntakeContext, request.app.state.context)


Ctx = Annotated[IntakeContext, Depends(context)]


def signed_operator(request: Request, token: str) -> Operator | None:
    settings = context(request).settings
    return settings.signed_operator(settings.token_verifier().claims(token))


# The operator (their name is recorded with each change; their site bounds what they see): a dependency, so a
# caller without a token gets 401 first. A static token of this deployment, or a signed short-lived one (the
# console's, or an identity provider's) naming the operator's site.
OperatorOf = Annotated[
    Operator,
    Depends(
        bearer(
            lambda request: context(request).settings.operators(),
            scheme_name="OperatorToken",
            description="an operator token, bound to one site",
            signed=signed_operator,
        )
    ),
]
ApplicationId = Annotated[UUID, Path(description="The application's id (as the submit answered it)")]
Day = Annotated[
    date | None, Query(description="The site's day (YYYY-MM-DD); today where the site is by default")
]

router = APIRouter(prefix="/applications")
operators = APIRouter(tags=["operators"])


def this_site(ctx: IntakeContext) -> SiteState:
    if not (ctx.catalogue.loaded.is_set() and ctx.sites.loaded.is_set()):
        raise unavailable("catalogue_loading", "the service catalogue is still loading; retry in a moment")
    site = ctx.this_site()
    if site is None:
        raise unavailable("site_unknown", f"site {ctx.settings.site_id} is not in the catalogue")
    return site


@router.post(
    "",
    status_code=201,
    response_model=ApplicationAccepted,
    responses=error_responses(400, 413, 422, 503),
    tags=["applications"],
)
async def submit_application(
    ctx: Ctx,
    body: ApplicationRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=128,
            description="Any string of up to 128 characters, unique per application: a retry with the same key "
            "and body gets the first answer (for 24 hours by default); with another body, 422",
        ),
    ] = None,
) -> JSONResponse:
    """Accept an application at this site; answers with a tracking code and, at the counter or kiosk, a queue
    ticket at the agency's counter (`DUK-007`). The requirements checklist is checked against the catalogue."""
    site = this_site(ctx)
    service = operations.offered_service(ctx.catalogue.get(body.service_code), body.service_code)
    status, answer = await operations.submit(
        ctx.pool,
        site=site,
        body=body,
        service=service,
        contact_key=ctx.settings.contact_sealing_key.get_secret_value(),
        nik_key=ctx.settings.nik_encryption_key.get_secret_value(),
        idempotency_key=idempotency_key,
        ttl_hours=ctx.settings.idempotency_ttl_hours,
    )
    return JSONResponse(answer, status_code=status)


@router.get(
    "/{application_id}",
    response_model=ApplicationView,
    responses=error_responses(401, 404, 422),
    tags=["operators"],
)
async def get_application(ctx: Ctx, operator: OperatorOf, application_id: ApplicationId) -> ApplicationView:
    """An application of the operator's site with its history (NIK and phone by their last digits only)."""
    return await operations.application(ctx.pool, operator=operator, application_id=application_id)


@router.post(
    "/{application_id}/status",
    response_model=ApplicationView,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503),
    tags=["operators"],
)
async def change_status(
    ctx: Ctx, operator: OperatorOf, application_id: ApplicationId, body: StatusChange
) -> ApplicationView:
    """Move an application on (in progress, ready for pickup, completed, rejected with a note); the applicant is
    texted when it is ready or rejected. `ready_for_pickup` of a forwarded application whose product is
    collected at its origin sends it back there (`sent_to_origin`). A change the current status does not allow
    is a 409 naming the statuses it allows."""
    return await operations.change_status(
        ctx.pool,
        site=this_site(ctx),
        operator=operator,
        application_id=application_id,
        change=body,
        collected_at=ctx.collected_at,
    )


@router.post(
    "/{application_id}/ready",
    response_model=ApplicationView,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503),
    tags=["operators"],
)
async def mark_ready(
    ctx: Ctx, operator: OperatorOf, application_id: ApplicationId, body: ReadyMark | None = None
) -> ApplicationView:
    """Finished: `ready_for_pickup` here, or, for an application forwarded from another site whose product is
    collected there, `sent_to_origin` (the origin site is told, and texts the applicant when it is ready there)."""
    return await operations.mark_ready(
        ctx.pool,
        site=this_site(ctx),
        operator=operator,
        application_id=application_id,
        note=body.note if body else None,
        collected_at=ctx.collected_at,
    )


@router.post(
    "/{application_id}/check-in",
    response_model=ApplicationView,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["operators"],
)
async def check_in(ctx: Ctx, operator: OperatorOf, application_id: ApplicationId) -> ApplicationView:
    """The applicant arrived: an expected arrival becomes `checked_in`; it, or an online application, gets the
    day's queue ticket at its agency's counter. Again the same day: the same answer."""
    return await operations.check_in(
        ctx.pool, site=this_site(ctx), operator=operator, application_id=application_id
    )


@router.post(
    "/{application_id}/cancel",
    response_model=ApplicationView,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503),
    tags=["operators"],
)
async def cancel(
    ctx: Ctx, operator: OperatorOf, application_id: ApplicationId, body: Cancellation
) -> ApplicationView:
    """Cancel with a reason (the applicant gave up). A forwarded application's central slot is freed by routing."""
    return await operations.cancel(
        ctx.pool, site=this_site(ctx), operator=operator, application_id=application_id, reason=body.reason
    )


@router.post(
    "/{application_id}/reschedule",
    status_code=202,
    response_model=ChangeRequested,
    responses=error_responses(400, 401, 404, 409, 413, 422),
    tags=["operators"],
)
async def request_reschedule(
    ctx: Ctx, operator: OperatorOf, application_id: ApplicationId, body: RescheduleRequest
) -> ChangeRequested:
    """Ask routing for the next free central slot on or after `not_before`; the application changes when routing
    answers (the applicant is texted the new appointment)."""
    return await operations.request_reschedule(
        ctx.pool, operator=operator, application_id=application_id, body=body
    )


@router.get(
    "/track/{tracking_code}",
    response_model=ApplicationTracking,
    responses=error_responses(404, 422),
    tags=["tracking"],
)
async def track(
    ctx: Ctx,
    tracking_code: Annotated[
        str,
        Path(pattern=TRACKING_CODE_PATTERN, description="The code of the SMS, e.g. 7F3K-9Q2M (either case)"),
    ],
    phone_last4: Annotated[
        str, Query(pattern=r"^[0-9]{4}$", description="last 4 digits of the applicant's phone")
    ],
) -> ApplicationTracking:
    """Public tracking: the tracking code plus the last four digits of the phone. Shows the status history, the
    next step and the appointment; never the NIK, the full name or the phone number."""
    site = ctx.this_site()
    return await operations.track(
        ctx.pool,
        site_id=ctx.settings.site_id,
        site_name=site.sms_name if site else "",
        tracking_code=tracking_code,
        phone_last4=phone_last4,
    )


@operators.get("/queue", response_model=list[ApplicationSummary], responses=error_responses(401, 422, 503))
async def queue(
    ctx: Ctx,
    operator: OperatorOf,
    day: Day = None,
    status: Annotated[ApplicationStatus | None, Query()] = None,
    agency_code: Annotated[AgencyCode | None, Query()] = None,
    channel: Annotated[ApplicationChannel | None, Query()] = None,
) -> list[ApplicationSummary]:
    """The day's queue at the operator's site, in the order the tickets were given."""
    return await operations.queue(
        ctx.pool,
        site=this_site(ctx),
        operator=operator,
        day=day,
        status=status,
        agency_code=agency_code,
        channel=channel,
    )


@operators.get("/arrivals", response_model=list[ApplicationSummary], responses=error_responses(401, 422, 503))
async def arrivals(
    ctx: Ctx,
    operator: OperatorOf,
    day: Day = None,
    agency_code: Annotated[AgencyCode | None, Query()] = None,
    status: Annotated[ApplicationStatus | None, Query()] = None,
) -> list[ApplicationSummary]:
    """Applicants forwarded from other sites with an appointment here on the day, in appointment order."""
    return await operations.arrivals(
        ctx.pool, site=this_site(ctx), operator=operator, day=day, agency_code=agency_code, status=status
    )


@operators.get("/search", response_model=list[ApplicationSummary], responses=error_responses(401, 422, 503))
async def search(
    ctx: Ctx,
    operator: OperatorOf,
    q: Annotated[
        str,
        Query(
            min_length=2,
            max_length=120,
            description="A tracking code, today's ticket (DUK-007) or part of a name",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[ApplicationSummary]:
    """Applications of the operator's site by tracking code, today's ticket or name; newest first."""
    return await operations.search(ctx.pool, site=this_site(ctx), operator=operator, text=q, limit=limit)
