"""Base of every HTTP request model.

PostgreSQL text cannot hold the NUL character; without this rule a `\\u0000` in any field reached the database
and came back as a 500. Refused here, it is a 422 naming the field like any other bad input.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator

NUL_REASON = "must not contain the NUL character (\\u0000)"


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


class ApiModel(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_REASON)
        return value
