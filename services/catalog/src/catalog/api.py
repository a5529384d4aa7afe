"""Catalog's HTTP API: public reads and search (with ETags), and the admin API (bearer token)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from catalog import service as operations
from catalog.service import Snapshot
from catalog.settings import CatalogSettings
from catalog.standards import ServiceType, Site
from mpp_kit.errors import ApiError, ErrorResponse, FieldProblem
from mpp_kit.runtime import ServiceRuntime

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422)
}


class ServiceSummary(BaseModel):
    code: str
    name: str
    agency: str
    channel: str
    central_reason: str | None
    working_days: int
    fee: int
    free: bool
    sites: int
    score: float | None = None


class Page(BaseModel):
    items: list[ServiceSummary]
    total: int
    limit: int
    offset: int


def _summary(snapshot: Snapshot, svc: ServiceType, score: float | None = None) -> ServiceSummary:
    sites = sum(1 for site in snapshot.catalogue.sites if snapshot.catalogue.offered_at(svc, site))
    return ServiceSummary(
        code=svc.code,
        name=svc.name,
        agency=svc.agency,
        channel=svc.channel,
        central_reason=svc.central_reason,
        working_days=svc.completion.working_days,
        fee=svc.fee.amount,
        free=svc.fee.free,
        sites=sites,
        score=score,
    )


def cached(request: Request, payload: Any) -> Response:
    """JSON with a strong ETag; 304 when the client already holds this representation."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise ApiError(
            422,
            "validation_failed",
            "If-Match must be the version number",
            [FieldProblem(field="If-Match", reason='expected a version like "3"')],
        )
    return int(value)


def add_routes(app: FastAPI, runtime: ServiceRuntime, settings: CatalogSettings, snapshot: Snapshot) -> None:
    def admin(authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        admin_token = settings.catalog_admin_token.get_secret_value()
        ops_token = settings.catalog_ops_token.get_secret_value()
        if token and admin_token and hmac.compare_digest(token, admin_token):
            return
        if token and ops_token and hmac.compare_digest(token, ops_token):
            raise ApiError(403, "forbidden", "this credential may read but not change the catalogue")
        raise ApiError(401, "unauthorized", "an admin bearer token is required")

    @app.get("/services", tags=["public"], response_model=Page)
    async def list_services(
        request: Request,
        q: Annotated[str | None, Query(max_length=100, description="search words, e.g. 'akta lahir'")] = None,
        site: Annotated[str | None, Query(max_length=63)] = None,
        agency: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    ) -> Response:
        """Services, optionally searched (ranked) and filtered by site and agency; paginated."""
        catalogue = snapshot.catalogue
        if site is not None and not any(s.slug == site for s in catalogue.sites):
            raise ApiError(404, "not_found", "no such site", [FieldProblem(field="site", reason="unknown")])
        ranked: list[tuple[ServiceType, float | None]]
        if q and q.strip():
            ranked = [(svc, round(score, 3)) for svc, score in snapshot.index.search(q, limit=1000, offset=0)]
        else:
            ranked = [(svc, None) for svc in catalogue.services]
        if site is not None:
            where = catalogue.site(site)
            ranked = [(svc, s) for svc, s in ranked if catalogue.offered_at(svc, where)]
        if agency is not None:
            ranked = [(svc, s) for svc, s in ranked if svc.agency == agency.upper()]
        page = [_summary(snapshot, svc, score) for svc, score in ranked[offset : offset + limit]]
        return cached(request, Page(items=page, total=len(ranked), limit=limit, offset=offset).model_dump())

    @app.get("/services/{code}", tags=["public"], responses=ERRORS)
    async def get_service(request: Request, code: str) -> Response:
        """The whole standar pelayanan of one service, with the sites offering it."""
        async with runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT body, sites, version FROM service_type WHERE code = $1 AND retired_at IS NULL",
                code.upper(),
            )
        if row is None:
            raise ApiError(
                404, "not_found", "no such service", [FieldProblem(field="code", reason="unknown")]
            )
        response = cached(request, {**json.loads(row["body"]), "sites": list(row["sites"])})
        response.headers["X-Version"] = str(row["version"])
        return response

    @app.get("/sites", tags=["public"])
    async def list_sites(request: Request) -> Response:
        return cached(request, [s.model_dump(mode="json") for s in snapshot.catalogue.sites])

    @app.get("/sites/{slug}", tags=["public"], responses=ERRORS)
    async def get_site(request: Request, slug: str) -> Response:
        try:
            site = snapshot.catalogue.site(slug)
        except KeyError:
            raise ApiError(
                404, "not_found", "no such site", [FieldProblem(field="slug", reason="unknown")]
            ) from None
        schedules = [s.model_dump(mode="json") for s in snapshot.catalogue.schedules if s.site == slug]
        async with runtime.pool.acquire() as conn:
            version = await conn.fetchval("SELECT version FROM site WHERE slug = $1", slug)
        return cached(request, {**site.model_dump(mode="json"), "version": version, "schedules": schedules})

    @app.get("/agencies", tags=["public"])
    async def list_agencies(request: Request) -> Response:
        return cached(request, [a.model_dump(mode="json") for a in snapshot.catalogue.agencies])

    @app.post("/admin/services", status_code=201, tags=["admin"], responses=ERRORS)
    async def create_service(
        body: ServiceType, authorization: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        admin(authorization)
        created = await operations.create_service(runtime.pool, body)
        await snapshot.refresh(runtime.pool)
        return JSONResponse(
            created.model_dump(mode="json"), status_code=201, headers={"ETag": f'"{created.version}"'}
        )

    @app.put("/admin/services/{code}", tags=["admin"], responses=ERRORS)
    async def update_service(
        code: str,
        body: ServiceType,
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Replace a service. The version you edited goes in If-Match (or the body's `version`); a stale one
        is refused with 409."""
        admin(authorization)
        updated = await operations.update_service(runtime.pool, code.upper(), body, _version(if_match))
        await snapshot.refresh(runtime.pool)
        return JSONResponse(updated.model_dump(mode="json"), headers={"ETag": f'"{updated.version}"'})

    @app.delete("/admin/services/{code}", status_code=204, tags=["admin"], responses=ERRORS)
    async def retire_service(
        code: str,
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Retire a service: it disappears from reads and from every read model (a tombstone on the topic)."""
        admin(authorization)
        await operations.retire_service(runtime.pool, code.upper(), _version(if_match))
        await snapshot.refresh(runtime.pool)
        return Response(status_code=204)

    @app.put("/admin/sites/{slug}", tags=["admin"], responses=ERRORS)
    async def put_site(
        slug: str,
        body: Site,
        authorization: Annotated[str | None, Header()] = None,
        if_match: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Create a site, or replace one naming its version in If-Match (a stale one is refused with 409)."""
        admin(authorization)
        version = await operations.put_site(runtime.pool, slug, body, _version(if_match))
        await snapshot.refresh(runtime.pool)
        return JSONResponse(
            {**body.model_dump(mode="json"), "version": version}, headers={"ETag": f'"{version}"'}
        )
