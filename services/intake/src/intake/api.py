"""Intake's HTTP API: submit an application, track it."""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse

from intake import repository, service
from intake.schemas import ApplicationAccepted, ApplicationRequest, ApplicationView, StatusChange
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceAvailability, SiteState
from mpp_kit.errors import ApiError, ErrorResponse, FieldProblem
from mpp_kit.http import create_app
from mpp_kit.readmodel import ReadModel
from mpp_kit.runtime import ServiceRuntime

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 409, 413, 422, 503)
}


def build_app(
    runtime: ServiceRuntime,
    settings: IntakeSettings,
    catalogue: ReadModel[Any, ServiceAvailability],
    sites: ReadModel[Any, SiteState],
) -> FastAPI:
    app = create_app(
        f"Mini MPP intake ({settings.site_id})",
        lifespan=runtime.lifespan(),
        readiness=runtime.readiness,
        max_body_bytes=settings.http_max_body_bytes,
    )

    @app.post(
        "/applications",
        status_code=201,
        response_model=ApplicationAccepted,
        responses=ERRORS,
        tags=["applications"],
    )
    async def submit_application(
        body: ApplicationRequest,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> JSONResponse:
        """Accept an application at this site; answers with a tracking code and, at the counter, a queue ticket."""
        site = this_site()
        svc = catalogue.get(body.service_code)
        service.check_service(svc, body.service_code)
        assert svc is not None
        status, answer = await service.submit(
            runtime.pool,
            site=site,
            body=body,
            service=svc,
            contact_key=settings.contact_sealing_key.get_secret_value(),
            nik_key=settings.nik_encryption_key.get_secret_value(),
            idempotency_key=idempotency_key,
            ttl_hours=settings.idempotency_ttl_hours,
        )
        return JSONResponse(answer, status_code=status)

    def this_site() -> SiteState:
        if not (catalogue.loaded.is_set() and sites.loaded.is_set()):
            raise ApiError(
                503, "catalogue_loading", "the service catalogue is still loading; retry in a moment"
            )
        site = sites.get(settings.site_id)
        if site is None:
            raise ApiError(503, "site_unknown", f"site {settings.site_id} is not in the catalogue")
        return site

    def operator(authorization: str | None) -> str:
        token = (authorization or "").removeprefix("Bearer ").strip()
        for known, name in settings.operators().items():
            if token and hmac.compare_digest(token, known):
                return name
        raise ApiError(401, "unauthorized", "an operator token of this site is required")

    @app.get(
        "/applications/{application_id}", response_model=ApplicationView, responses=ERRORS, tags=["operators"]
    )
    async def get_application(
        application_id: UUID, authorization: Annotated[str | None, Header()] = None
    ) -> ApplicationView:
        """An application of this site, for its operators (NIK and phone shown by their last digits only)."""
        operator(authorization)
        async with runtime.pool.acquire() as conn:
            row = await repository.application(conn, settings.site_id, application_id)
        if row is None:
            raise ApiError(
                404,
                "not_found",
                "no such application at this site",
                [FieldProblem(field="application_id", reason="unknown at this site")],
            )
        return service.view(row)

    @app.post(
        "/applications/{application_id}/status",
        response_model=ApplicationView,
        responses=ERRORS,
        tags=["operators"],
    )
    async def change_status(
        application_id: UUID, body: StatusChange, authorization: Annotated[str | None, Header()] = None
    ) -> ApplicationView:
        """Move an application on (in progress, ready for pickup, completed, rejected); the applicant is texted."""
        name = operator(authorization)
        return await service.change_status(
            runtime.pool, site=this_site(), application_id=application_id, change=body, operator=name
        )

    @app.get("/applications/track/{tracking_code}", responses=ERRORS, tags=["tracking"])
    async def track(
        tracking_code: str,
        phone_last4: Annotated[
            str, Query(pattern=r"^\d{4}$", description="last 4 digits of the applicant's phone")
        ],
    ) -> dict[str, Any]:
        """Public tracking: the tracking code plus the last four digits of the phone (never the NIK)."""
        async with runtime.pool.acquire() as conn:
            row = await repository.find_by_tracking_code(conn, settings.site_id, tracking_code.upper())
        if row is None or row["phone_last4"] != phone_last4:
            # Same answer for both: do not reveal that a tracking code exists.
            raise ApiError(
                404,
                "not_found",
                "no application with this tracking code and phone",
                [FieldProblem(field="tracking_code", reason="not found for these phone digits")],
            )
        return {
            "tracking_code": row["tracking_code"],
            "status": row["status"],
            "service_code": row["service_code"],
            "site_id": row["site_id"],
            "updated_at": row["updated_at"].isoformat(),
        }

    return app
