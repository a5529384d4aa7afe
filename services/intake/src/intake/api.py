"""Intake's HTTP API: submit an application and track it (public); the site's working day for its operators:
the queue, expected arrivals, search, one application with its history, and moving it on."""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast, get_args
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intake import operations
from intake.context import IntakeContext
from intake.schemas import (
    AgencyCode,
    ApplicationAccepted,
    ApplicationRequest,
    ApplicationSummary,
    ApplicationTracking,
    ApplicationView,
    Cancellation,
    ChangeRequested,
    Erasure,
    ReadyMark,
    RescheduleRequest,
    StatusChange,
    SurveyPeriod,
    SurveyRecorded,
    SurveySubmission,
    SurveySummary,
    TrackingRequest,
    VerificationCode,
    VerificationResent,
)
from intake.settings import Operator
from mpp_contracts.catalog import SiteState
from mpp_contracts.intake import ApplicationChannel, ApplicationStatus
from mpp_kit import http
from mpp_kit.auth import bearer
from mpp_kit.errors import ApiError, FieldProblem, error_responses, forbidden, unauthorized, unavailable
from mpp_kit.forwarded import client_address as forwarded_client


def context(request: Request) -> IntakeContext:
    return cast(IntakeContext, request.app.state.context)


Ctx = Annotated[IntakeContext, Depends(http.app_context(IntakeContext))]


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

_operator_of = get_args(OperatorOf)[1].dependency


async def supervisor(operator: OperatorOf) -> Operator:
    """What cannot be undone (cancelling an application, erasing personal data) is a supervisor's: an operator's
    credential is refused (403) before anything is looked up, so it learns nothing about the application."""
    if operator.role != "supervisor":
        raise ApiError(
            403,
            "forbidden",
            "only a supervisor may do this",
            [
                FieldProblem(
                    field="Authorization", reason="a supervisor's credential is required, not an operator's"
                )
            ],
        )
    return operator


SupervisorOf = Annotated[Operator, Depends(supervisor)]
_submit_credentials = HTTPBearer(
    auto_error=False,
    scheme_name="OperatorToken",
    description="an operator token of this site: required at the counter and the kiosk, none online",
)


async def submitting_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_submit_credentials)],
) -> Operator | None:
    """The operator submitting at the counter or kiosk; None for an anonymous (online) applicant. A token that is
    given must be valid (401)."""
    return None if credentials is None else cast(Operator, await _operator_of(request, credentials))


def client_address(request: Request) -> str:
    """The address the rate limits count: the TCP peer (uvicorn runs with --no-proxy-headers), or, from one of
    TRUSTED_PROXY_CIDRS (the web, the ingress), the client they name in X-Forwarded-For."""
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(
        peer, request.headers.getlist("x-forwarded-for"), context(request).settings.trusted_proxies()
    )


async def throttle(request: Request, endpoint: str, limit: int) -> None:
    ctx = context(request)
    await operations.throttle(
        ctx.pool,
        endpoint=endpoint,
        client=client_address(request),
        limit=limit,
        window_s=ctx.settings.rate_limit_window_s,
        hashing_key=ctx.settings.hashing_key(),
    )


async def submitter(
    request: Request, operator: Annotated[Operator | None, Depends(submitting_operator)]
) -> Operator | None:
    """Anonymous submits are counted per client address (429 over the limit); a site's operator is not."""
    if operator is None:
        await throttle(request, "submit", context(request).settings.rate_limit_submits)
    return operator


async def verification_throttle(request: Request) -> None:
    await throttle(request, "verify", context(request).settings.rate_limit_verifications)


async def tracking_throttle(request: Request) -> None:
    await throttle(request, "track", context(request).settings.rate_limit_tracking)


async def resend_throttle(request: Request) -> None:
    await throttle(request, "resend", context(request).settings.rate_limit_resends)


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
    responses=error_responses(400, 401, 403, 413, 422, 429, 503),
    tags=["applications"],
    # Appended to the token FastAPI declares: a token at the counter and kiosk, or none (online).
    openapi_extra={"security": [{}]},
)
async def submit_application(
    ctx: Ctx,
    operator: Annotated[Operator | None, Depends(submitter)],
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
    ticket at the agency's counter (`DUK-007`). The requirements checklist is checked against the catalogue.

    Counter and kiosk: an operator token of this site (401 without one, 403 with another site's). Online: no
    token; the application waits (`awaiting_verification`) for the six-digit code texted to the phone, given to
    `POST /applications/{id}/verify`; nothing is routed before. Anonymous submits are limited per client
    address (429 with Retry-After)."""
    if body.channel != "online":
        if operator is None:
            raise unauthorized("a counter or kiosk application needs an operator token of this site")
        if operator.site_id != ctx.settings.site_id:
            raise forbidden("this operator token belongs to another site")
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
        hashing_key=ctx.settings.hashing_key(),
        verification_valid_minutes=ctx.settings.verification_valid_minutes,
    )
    return JSONResponse(answer, status_code=status)


@router.post(
    "/track",
    response_model=ApplicationTracking,
    responses=error_responses(400, 404, 413, 422, 429),
    tags=["tracking"],
    dependencies=[Depends(tracking_throttle)],
)
async def track(ctx: Ctx, body: TrackingRequest) -> ApplicationTracking:
    """Public tracking: the tracking code plus the last four digits of the phone. Shows the status history, the
    next step and the appointment; never the NIK, the full name or the phone number. An unknown code and wrong
    digits get the same 404; a code asked with wrong digits too often is locked for a while (429), as are too
    many lookups from one address."""
    site = ctx.this_site()
    return await operations.track(
        ctx.pool,
        site_id=ctx.settings.site_id,
        site_name=site.sms_name if site else "",
        tracking_code=body.tracking_code,
        phone_last4=body.phone_last4,
        hashing_key=ctx.settings.hashing_key(),
        max_failures=ctx.settings.tracking_max_failures,
        lock_minutes=ctx.settings.tracking_lock_minutes,
    )


@router.post(
    "/track/survey",
    status_code=201,
    response_model=SurveyRecorded,
    responses=error_responses(400, 404, 409, 413, 422, 429),
    tags=["survey"],
    dependencies=[Depends(tracking_throttle)],
)
async def answer_survey(ctx: Ctx, body: SurveySubmission) -> SurveyRecorded:
    """The satisfaction survey (SKM, Survei Kepuasan Masyarakat, PermenPANRB 14/2017): the nine elements scored
    1-4 and an optional suggestion, once the application is `completed` (the applicant has the result; before,
    a 409 `survey_not_open`). One response per application (again: 409 `survey_done`). Proven like tracking, by
    the tracking code and the phone's last four digits in the body, under the same limits: wrong digits count
    toward the same lock (429), and the lookups toward the same per-address limit."""
    return await operations.answer_survey(
        ctx.pool,
        site_id=ctx.settings.site_id,
        body=body,
        hashing_key=ctx.settings.hashing_key(),
        max_failures=ctx.settings.tracking_max_failures,
        lock_minutes=ctx.settings.tracking_lock_minutes,
    )


@router.get(
    "/track/{tracking_code}",
    status_code=410,
    responses=error_responses(410),
    tags=["tracking"],
    deprecated=True,
)
async def track_in_the_query_string(tracking_code: str) -> None:
    """Gone: the phone digits travelled in the URL. Use `POST /applications/track`."""
    raise ApiError(410, "gone", "use POST /applications/track with tracking_code and phone_last4 in the body")


@router.post(
    "/{application_id}/verify",
    response_model=ApplicationAccepted,
    responses=error_responses(400, 404, 409, 413, 422, 429, 503),
    tags=["applications"],
    dependencies=[Depends(verification_throttle)],
)
async def verify(ctx: Ctx, application_id: ApplicationId, body: VerificationCode) -> ApplicationAccepted:
    """The code texted to an online applicant's phone: the application becomes `submitted` and goes on to
    routing (the received SMS follows). A wrong code is a 422 with the attempts left; after
    VERIFICATION_MAX_ATTEMPTS wrong codes, or once the code expired (VERIFICATION_VALID_MINUTES), a 409: apply
    again. The right code again answers the same."""
    return await operations.verify(
        ctx.pool,
        site=this_site(ctx),
        application_id=application_id,
        code=body.code,
        hashing_key=ctx.settings.hashing_key(),
        max_attempts=ctx.settings.verification_max_attempts,
    )


@router.post(
    "/{application_id}/verification/resend",
    status_code=202,
    response_model=VerificationResent,
    responses=error_responses(404, 409, 422, 429, 503),
    tags=["applications"],
    dependencies=[Depends(resend_throttle)],
)
async def resend_verification(ctx: Ctx, application_id: ApplicationId) -> VerificationResent:
    """Text a new code to an online applicant whose code did not arrive, expired or was mistyped too often,
    while the application is `awaiting_verification` (else 409): the code sent before stops working; the new
    one has VERIFICATION_VALID_MINUTES and VERIFICATION_MAX_ATTEMPTS afresh. At most
    VERIFICATION_MAX_RESENDS times (then 409: apply again), not sooner than VERIFICATION_RESEND_INTERVAL_S after
    the previous code (429 with Retry-After); limited per client address too (429)."""
    settings = ctx.settings
    return await operations.resend_verification(
        ctx.pool,
        site=this_site(ctx),
        application_id=application_id,
        contact_key=settings.contact_sealing_key.get_secret_value(),
        hashing_key=settings.hashing_key(),
        valid_minutes=settings.verification_valid_minutes,
        max_resends=settings.verification_max_resends,
        interval_s=settings.verification_resend_interval_s,
    )


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
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
    tags=["operators"],
)
async def cancel(
    ctx: Ctx, operator: SupervisorOf, application_id: ApplicationId, body: Cancellation
) -> ApplicationView:
    """Cancel with a reason (the applicant gave up). A forwarded application's central slot is freed by routing.
    A supervisor's: an operator's credential is a 403."""
    return await operations.cancel(
        ctx.pool, site=this_site(ctx), operator=operator, application_id=application_id, reason=body.reason
    )


@router.post(
    "/{application_id}/erase",
    response_model=ApplicationView,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
    tags=["operators"],
)
async def erase(
    ctx: Ctx, operator: SupervisorOf, application_id: ApplicationId, body: Erasure
) -> ApplicationView:
    """The applicant asked for their personal data to be erased: the name, NIK, phone and document references
    of this closed application go now (an open one is a 409: cancel it first). Recorded in the history with the
    supervisor and the reason. A supervisor's: an operator's credential is a 403. Closed applications are
    purged anyway after PERSONAL_DATA_RETENTION_DAYS."""
    return await operations.erase(
        ctx.pool, operator=operator, application_id=application_id, reason=body.reason
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


@operators.get("/pickups", response_model=list[ApplicationSummary], responses=error_responses(401, 503))
async def pickups(ctx: Ctx, operator: OperatorOf) -> list[ApplicationSummary]:
    """Results ready here for their applicants to collect, whatever day they were submitted: the longest waiting
    first. The day's queue lists only what was ticketed that day; a result can wait weeks."""
    return await operations.pickups(ctx.pool, operator=operator)


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


@operators.get(
    "/surveys/summary",
    response_model=SurveySummary,
    responses=error_responses(401, 422, 503),
    tags=["survey"],
)
async def survey_summary(
    ctx: Ctx,
    operator: OperatorOf,
    period: Annotated[SurveyPeriod, Query()],
) -> SurveySummary:
    """The satisfaction index (IKM, PermenPANRB 14/2017) of the operator's own site over the survey responses
    answered on those days: how many, the average score (NRR) of each of the nine elements, IKM = (sum of NRR x
    1/9) x 25 and its quality band (mutu: A Sangat Baik, B Baik, C Kurang Baik, D Tidak Baik). Another site's
    operator counts only their own site's responses (here, none)."""
    return await operations.survey_summary(
        ctx.pool, site=this_site(ctx), operator=operator, first_day=period.from_, last_day=period.to
    )
