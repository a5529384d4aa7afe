"""What every page needs: the context, the logged-in operator, forms checked for CSRF, rendering with the CSRF
cookie, and the few exceptions that become pages (login required, expired form, upstream unavailable)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from mpp_kit import http
from web.clients import Intake, Unavailable
from web.context import WebContext
from web.security import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE, Operator


def context(request: Request) -> WebContext:
    return cast(WebContext, request.app.state.context)


Ctx = Annotated[WebContext, Depends(http.app_context(WebContext))]


class LoginRequired(Exception):
    """Becomes a redirect to the login page, coming back here afterwards."""


class FormExpired(Exception):
    """The form's CSRF field does not match the visitor's cookie: an old page, or a forged request."""


class NotAllowed(Exception):
    """The operator's role may not do this."""


def current_operator(request: Request) -> Operator:
    operator = context(request).sessions.read(request.cookies.get(SESSION_COOKIE))
    if operator is None:
        raise LoginRequired
    return operator


OperatorOf = Annotated[Operator, Depends(current_operator)]


def operator_intake(request: Request) -> Intake:
    intake = context(request).intake(current_operator(request).site)
    if intake is None:
        raise Unavailable("no intake configured for the operator's site")
    return intake


IntakeOf = Annotated[Intake, Depends(operator_intake)]


async def checked_form(request: Request) -> dict[str, str]:
    """The POSTed form's text fields, once its CSRF field matches the visitor's cookie."""
    form = await request.form()
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    # Repeated fields (the checklist's boxes) are read with `checked_list`.
    request.state.form = form
    if not context(request).sessions.csrf_ok(request.cookies.get(CSRF_COOKIE), values.get(CSRF_FIELD)):
        raise FormExpired
    return values


Form = Annotated[dict[str, str], Depends(checked_form)]


def checked_list(request: Request, name: str) -> list[str]:
    return [v for v in request.state.form.getlist(name) if isinstance(v, str)]


def csrf_seed(request: Request) -> tuple[str, bool]:
    """The visitor's CSRF seed, and whether it is new (then the response sets its cookie)."""
    seed = request.cookies.get(CSRF_COOKIE)
    if seed:
        return seed, False
    if not hasattr(request.state, "csrf_seed"):
        request.state.csrf_seed = context(request).sessions.new_csrf_seed()
    return cast(str, request.state.csrf_seed), True


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    seed, new = csrf_seed(request)
    operator = ctx.sessions.read(request.cookies.get(SESSION_COOKIE))
    operator_site = ctx.sites.known(operator.site) if operator else None
    page = {
        "csrf_field": CSRF_FIELD,
        "csrf": ctx.sessions.csrf_token(seed),
        "operator": operator,
        # The menu: arrivals at the central MPP, results waiting for pickup at a Mini MPP.
        "at_central": bool(operator_site and operator_site.get("kind") == "central"),
        # A fresh key per rendered form: a double click or a reload sends the same key, intake answers once.
        "form_key": uuid.uuid4().hex,
        "errors": {},
        "values": {},
        **values,
    }
    response = ctx.templates.TemplateResponse(request, template, page, status_code=status_code)
    if new:
        set_cookie(ctx, response, CSRF_COOKIE, seed, max_age=None)
    return response


def set_cookie(
    ctx: WebContext, response: Response, name: str, value: str, max_age: int | None, path: str = "/"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=ctx.settings.cookie_secure,
        samesite="lax",
        path=path,
    )


def client_address(request: Request) -> str | None:
    """The person's address, as this server took it (behind the ingress, uvicorn's proxy headers resolve it):
    intake counts anonymous calls per address."""
    return request.client.host if request.client else None
