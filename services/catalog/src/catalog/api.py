"""Catalog's HTTP API: public reads and search (with ETags), and the admin API (bearer token)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from catalog import operations, repository
from catalog.context import CatalogContext, Role
from catalog.domain import (
    SERVICE_CODE_MAX,
    SLUG_RE,
    Agency,
    AgencySchedule,
    Catalogue,
    ServiceType,
    Site,
)
from mpp_contracts.catalog import CentralOnlyReason, Channel
from mpp_kit import http
from mpp_kit.auth import bearer
from mpp_kit.errors import error_responses, forbidden, not_found

public = APIRouter(tags=["public"])
admin = APIRouter(prefix="/admin", tags=["admin"])


def context(request: Request) -> CatalogContext:
    return cast(CatalogContext, request.app.state.context)


Ctx = Annotated[CatalogContext, Depends(http.app_context(CatalogContext))]

authenticated = bearer(
    lambda request: context(request).roles(),
    scheme_name="catalogToken",
    description="CATALOG_ADMIN_TOKEN to change the catalogue; CATALOG_OPS_TOKEN may read only",
)


async def admin_role(role: Annotated[Role, Depends(authenticated)]) -> None:
    if role != "admin":
        raise forbidden("this credential may read but not change the catalogue")


# Codes are matched case-insensitively (stored upper case), so the documented patterns accept both cases.
SERVICE_CODE_ANY_CASE = r"^[A-Za-z][A-Za-z0-9]{1,19}(-[A-Za-z0-9]+)+$"
ServiceCodePath = Annotated[
    str,
    Path(
        pattern=SERVICE_CODE_ANY_CASE,
        max_length=SERVICE_CODE_MAX,
        description="service code, e.g. DUKCAPIL-AKTA-LAHIR (case-insensitive)",
    ),
]
SlugPath = Annotated[str, Path(pattern=SLUG_RE.pattern, description="site slug, e.g. loa-kulu")]
IfMatch = Annotated[
    str | None,
    Header(
        pattern=r'^\s*(W/)?"?[0-9]{1,9}"?\s*$',
        description='the version you edited, as the ETag you received: "3"',
    ),
]
ETAG_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: If-None-Match holds the current ETag"}
}
ADMIN_ERRORS = (400, 401, 403, 413, 422)


class ServiceSummary(BaseModel):
    code: str
    name: str
    agency_code: str
    channel: Channel
    central_only_reason: CentralOnlyReason | None
    completion_days: int
    fee: int
    free: bool
    sites: int = Field(description="how many sites offer it")
    score: float | None = Field(default=None, description="search relevance (about 0..1); with q only")


class Page(BaseModel):
    items: list[ServiceSummary]
    total: int
    limit: int
    offset: int


class ServiceDetail(ServiceType):
    sites: list[str] = Field(description="slugs of the sites offering it")


class SiteDetail(Site):
    version: int
    schedules: list[AgencySchedule]


class SiteVersioned(Site):
    version: int


def _summary(catalogue: Catalogue, service: ServiceType, score: float | None) -> ServiceSummary:
    return ServiceSummary(
        code=service.code,
        name=service.name,
        agency_code=service.agency_code,
        channel=service.channel,
        central_only_reason=service.central_only_reason,
        completion_days=service.completion.completion_days,
        fee=service.fee.amount,
        free=service.fee.free,
        sites=len(catalogue.sites_offering(service)),
        score=score,
    )


def cached(request: Request, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """JSON with a strong ETag; 304 when the client already holds this representation."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60", **(headers or {})}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _version(if_match: str | None) -> int | None:
    """The version an If-Match names (its pattern is checked by the Header declaration)."""
    return None if if_match is None else int(if_match.strip().removeprefix("W/").strip('"'))


# --- public reads --------------------------------------------------------------------------------------------


@public.get("/services", response_model=Page, responses={**ETAG_RESPONSES, **error_responses(404, 422)})
async def list_services(
    request: Request,
    ctx: Ctx,
    q: Annotated[str | None, Query(max_length=100, description="search words, e.g. 'akta lahir'")] = None,
    site: Annotated[
        str | None, Query(max_length=63, description="only services offered at this site")
    ] = None,
    agency_code: Annotated[
        str | None,
        Query(max_length=40, description="only this agency's services (case-insensitive), e.g. DUKCAPIL"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    """Services, optionally searched (ranked) and filtered by site and agency; paginated. An unknown site is
    404."""
    catalogue = ctx.snapshot.catalogue
    ranked: list[tuple[ServiceType, float | None]]
    if q and q.strip():
        ranked = [(svc, round(score, 3)) for svc, score in ctx.snapshot.index.search(q, limit=1000)]
    else:
        ranked = [(svc, None) for svc in catalogue.services]
    if site is not None:
        try:
            offered = {svc.code for svc in catalogue.services_at(site)}
        except KeyError:
            raise not_found("no such site", field="site", reason="unknown") from None
        ranked = [(svc, s) for svc, s in ranked if svc.code in offered]
    if agency_code is not None:
        ranked = [(svc, s) for svc, s in ranked if svc.agency_code == agency_code.upper()]
    page = [_summary(catalogue, svc, score) for svc, score in ranked[offset : offset + limit]]
    return cached(request, Page(items=page, total=len(ranked), limit=limit, offset=offset).model_dump())


@public.get(
    "/services/{code}",
    response_model=ServiceDetail,
    responses={**ETAG_RESPONSES, **error_responses(404, 422)},
)
async def get_service(request: Request, ctx: Ctx, code: ServiceCodePath) -> Response:
    """The whole standar pelayanan of one service, with the sites offering it; its version in X-Version."""
    async with ctx.pool.acquire() as conn:
        found = await repository.published_service(conn, code.upper())
    if found is None:
        raise not_found("no such service", field="code", reason="unknown")
    body, version = found
    return cached(request, body, {"X-Version": str(version)})


@public.get("/sites", response_model=list[Site], responses=ETAG_RESPONSES)
async def list_sites(request: Request, ctx: Ctx) -> Response:
    return cached(request, [s.model_dump(mode="json") for s in ctx.snapshot.catalogue.sites])


@public.get(
    "/sites/{slug}", response_model=SiteDetail, responses={**ETAG_RESPONSES, **error_responses(404, 422)}
)
async def get_site(request: Request, ctx: Ctx, slug: SlugPath) -> Response:
    """One site with its version (for If-Match) and the agencies' schedules there."""
    catalogue = ctx.snapshot.catalogue
    try:
        site = catalogue.site(slug)
    except KeyError:
        raise not_found("no such site", field="slug", reason="unknown") from None
    schedules = [s.model_dump(mode="json") for s in catalogue.schedules_for(site_slug=slug)]
    async with ctx.pool.acquire() as conn:
        version = await repository.site_version(conn, slug)
    return cached(request, {**site.model_dump(mode="json"), "version": version, "schedules": schedules})


@public.get("/agencies", response_model=list[Agency], responses=ETAG_RESPONSES)
async def list_agencies(request: Request, ctx: Ctx) -> Response:
    return cached(request, [a.model_dump(mode="json") for a in ctx.snapshot.catalogue.agencies])


# --- admin ---------------------------------------------------------------------------------------------------


@admin.post(
    "/services",
    status_code=201,
    response_model=ServiceType,
    dependencies=[Depends(admin_role)],
    responses=error_responses(*ADMIN_ERRORS, 409),
)
async def create_service(ctx: Ctx, body: ServiceType) -> JSONResponse:
    """Add a service type (version 1). A code in use, even by a retired service, is 409."""
    created = await operations.create_service(ctx.pool, body)
    await ctx.snapshot.refresh(ctx.pool)
    return JSONResponse(
        created.model_dump(mode="json"), status_code=201, headers={"ETag": f'"{created.version}"'}
    )


@admin.put(
    "/services/{code}",
    response_model=ServiceType,
    dependencies=[Depends(admin_role)],
    responses=error_responses(*ADMIN_ERRORS, 404, 409),
)
async def update_service(
    ctx: Ctx, code: ServiceCodePath, body: ServiceType, if_match: IfMatch = None
) -> JSONResponse:
    """Replace a service. The version you edited goes in If-Match (or the body's `version`); a stale one is
    refused with 409."""
    updated = await operations.update_service(ctx.pool, code.upper(), body, _version(if_match))
    await ctx.snapshot.refresh(ctx.pool)
    return JSONResponse(updated.model_dump(mode="json"), headers={"ETag": f'"{updated.version}"'})


@admin.delete(
    "/services/{code}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(admin_role)],
    responses=error_responses(401, 403, 404, 409, 422, 428),
)
async def retire_service(ctx: Ctx, code: ServiceCodePath, if_match: IfMatch = None) -> Response:
    """Retire a service, naming its version in If-Match (required: 428 without it; a stale one is 409). It
    disappears from reads and from every read model (a tombstone on the topic)."""
    await operations.retire_service(ctx.pool, code.upper(), _version(if_match))
    await ctx.snapshot.refresh(ctx.pool)
    return Response(status_code=204)


@admin.put(
    "/sites/{slug}",
    response_model=SiteVersioned,
    dependencies=[Depends(admin_role)],
    responses=error_responses(*ADMIN_ERRORS, 404, 409, 428),
)
async def put_site(ctx: Ctx, slug: SlugPath, body: Site, if_match: IfMatch = None) -> JSONResponse:
    """Create a site (without If-Match), or replace one naming its version in If-Match (required: 428 without
    it; 404 if there is no such site; a stale one is 409)."""
    version = await operations.put_site(ctx.pool, slug, body, _version(if_match))
    await ctx.snapshot.refresh(ctx.pool)
    return JSONResponse(
        {**body.model_dump(mode="json"), "version": version}, headers={"ETag": f'"{version}"'}
    )
