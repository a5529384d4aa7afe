"""Intake's HTTP API: submit an application and track it (public); read and move one on (the site's operators)."""

from __future__ import annotations

from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from intake import operations
from intake.context import IntakeContext
from intake.domain import TRACKING_CODE_PATTERN
from intake.schemas import (
    ApplicationAccepted,
    ApplicationRequest,
    ApplicationTracking,
    ApplicationView,
    StatusChange,
)
from mpp_contracts.catalog import SiteState
from mpp_kit.auth import bearer
from mpp_kit.errors import error_responses, unavailable


def context(request: Request) -> IntakeContext:
    return cast(IntakeContext, request.app.state.context)


Ctx = Annotated[IntakeContext, Depends(context)]
# The operator's name (recorded with each change): a dependency, so a caller without a token gets 401 first.
Operator = Annotated[
    str,
    Depends(
        bearer(
            lambda request: context(request).settings.operators(),
            scheme_name="OperatorToken",
            description="an operator token of this site",
        )
    ),
]

router = APIRouter(prefix="/applications")


def this_site(ctx: IntakeContext) -> SiteState:
    if not (ctx.catalogue.loaded.is_set() and ctx.sites.loaded.is_set()):
        raise unavailable("catalogue_loading", "the service catalogue is still loading; retry in a moment")
    site = ctx.sites.get(ctx.settings.site_id)
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
    """Accept an application at this site; answers with a tracking code and, at the counter, a queue ticket."""
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
async def get_application(ctx: Ctx, operator: Operator, application_id: UUID) -> ApplicationView:
    """An application of this site, for its operators (NIK and phone shown by their last digits only)."""
    return await operations.application(ctx.pool, site_id=ctx.settings.site_id, application_id=application_id)


@router.post(
    "/{application_id}/status",
    response_model=ApplicationView,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503),
    tags=["operators"],
)
async def change_status(
    ctx: Ctx, operator: Operator, application_id: UUID, body: StatusChange
) -> ApplicationView:
    """Move an application on (in progress, ready for pickup, completed, rejected with a note); the applicant is
    texted. A change the current status does not allow is a 409 naming the statuses it allows."""
    return await operations.change_status(
        ctx.pool, site=this_site(ctx), application_id=application_id, change=body, operator=operator
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
    """Public tracking: the tracking code plus the last four digits of the phone (never the NIK)."""
    return await operations.track(
        ctx.pool, site_id=ctx.settings.site_id, tracking_code=tracking_code, phone_last4=phone_last4
    )
