"""The one error format of every HTTP API: `{"error": {"code", "message", "fields": [{"field", "reason"}]}}`."""

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
        self, status: int, code: str, message: str, fields: list[FieldProblem] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or []))


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
