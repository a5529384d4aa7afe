"""The one error format of every HTTP API: `{"error": {"code", "message", "fields": [{"field", "reason"}]}}`.

Endpoints raise `ApiError` (or one of the constructors below, named after what went wrong); the kit's HTTP app
renders it. `error_responses(...)` documents the same statuses in a route's OpenAPI entry.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldProblem(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldProblem] = []


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """Raised by endpoints for an answer other than success; rendered in the error format."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or []))


def _fields(field: str | None, reason: str | None) -> list[FieldProblem]:
    return [FieldProblem(field=field, reason=reason or "invalid")] if field else []


def bad_request(message: str, field: str | None = None, reason: str | None = None) -> ApiError:
    return ApiError(400, "bad_request", message, _fields(field, reason))


def unauthorized(message: str = "a valid bearer token is required") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "this credential may not do that") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str, field: str | None = None, reason: str | None = None) -> ApiError:
    return ApiError(404, "not_found", message, _fields(field, reason))


def conflict(code: str, message: str, field: str | None = None, reason: str | None = None) -> ApiError:
    """409: the request is well formed but the resource's current state does not allow it."""
    return ApiError(409, code, message, _fields(field, reason))


def stale(current_version: int, field: str = "version") -> ApiError:
    """409 for optimistic concurrency: the client changed an older version than the one stored."""
    return ApiError(
        409,
        "stale_version",
        f"the resource has changed; the current version is {current_version}",
        [FieldProblem(field=field, reason=f"current version is {current_version}")],
    )


def precondition_required(message: str, field: str = "If-Match") -> ApiError:
    return ApiError(428, "precondition_required", message, _fields(field, "required"))


def invalid(field: str, reason: str, message: str = "some fields are missing or invalid") -> ApiError:
    """422 for a rule the request model cannot express (checked against the catalogue, the database...)."""
    return ApiError(422, "validation_failed", message, [FieldProblem(field=field, reason=reason)])


def unavailable(code: str, message: str, retry_after_s: int = 5) -> ApiError:
    """503 with Retry-After: a part this service stands on is not there yet (or right now)."""
    return ApiError(503, code, message, headers={"Retry-After": str(retry_after_s)})


_DESCRIPTIONS = {
    400: "Malformed request (for example a body that is not JSON)",
    401: "Missing or unknown credential",
    403: "The credential may not do this",
    404: "Not found (or not visible to this credential)",
    405: "Method not allowed",
    409: "Conflict with the current state",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid fields: each with its path and the reason",
    428: "Precondition required (If-Match)",
    429: "Too many requests",
    503: "A part this service needs is unavailable; retry after Retry-After seconds",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these error statuses, all in the error format."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS.get(status, "Error")}
        for status in statuses
    }


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'applicant', 'phone') -> 'applicant.phone'; list indexes as [0]."""
    parts: list[str] = []
    for item in loc:
        if item in ("body", "query", "path", "header") and not parts:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "body"
