"""Intake's HTTP API: submit an application, track it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse

from intake import repository, service
from intake.schemas import ApplicationAccepted, ApplicationRequest
from intake.settings import IntakeSettings
from mpp_contracts.catalog import ServiceAvailability
from mpp_kit.errors import ApiError, ErrorResponse, FieldProblem
from mpp_kit.http import create_app
from mpp_kit.readmodel import ReadModel
from mpp_kit.runtime import ServiceRuntime

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 409, 413, 422, 503)
}


def build_app(
    runtime: ServiceRuntime, settings: IntakeSettings, catalogue: ReadModel[Any, ServiceAvailability]
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
        if not catalogue.loaded.is_set():
            raise ApiError(
                503, "catalogue_loading", "the service catalogue is still loading; retry in a moment"
            )
        svc = catalogue.get(body.service_code)
        service.check_service(svc, settings.site_id, body.service_code)
        assert svc is not None
        status, answer = await service.submit(
            runtime.pool,
            site_id=settings.site_id,
            body=body,
            service=svc,
            contact_key=settings.contact_sealing_key.get_secret_value(),
            nik_key=settings.nik_encryption_key.get_secret_value(),
            idempotency_key=idempotency_key,
        )
        return JSONResponse(answer, status_code=status)

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
