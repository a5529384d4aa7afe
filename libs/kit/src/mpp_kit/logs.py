"""Structured JSON logs on stdout, with personal data masked as a last line of defence.

Code must not log NIK or phone numbers in the first place; the filter catches what slips through: a run of 16
digits standing alone (a NIK) and Indonesian mobile numbers in their usual spellings (0812..., 62812...,
+62 812-..., (0812) ...) are masked before a record is written. Identifiers are never touched: the trace and span
ids are kept as they are, and a UUID or any run of letters and digits (a hexadecimal id) is not searched inside.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from mpp_kit.telemetry import current_trace_id

# A number stands alone: no letter or digit before it, except the letter of an escape sequence (a backslash and
# n, t, x0a, u00a0...: a value quoted by repr() in an error or a traceback); no letter or digit after it.
_BEFORE = r"(?:(?<![0-9A-Za-z])|(?<=\\[ntrfvb])|(?<=\\x[0-9a-fA-F]{2})|(?<=\\u[0-9a-fA-F]{4}))"
_AFTER = r"(?![0-9A-Za-z])"
# What people put between digit groups: a space, or one of . _ / - with a space either side or none.
_SEP = r"(?: ?[._/-] ?| |\u00a0)"
_DIGIT_AFTER_SEP = rf"(?:{_SEP}?\d)"
_NIK = (
    r"\d{16}"
    # The usual groupings of a NIK: 4-4-4-4, 2-2-2-6-4 (province, regency, district, birth date, serial), 6-6-4.
    rf"|\d{{4}}{_SEP}\d{{4}}{_SEP}\d{{4}}{_SEP}\d{{4}}"
    rf"|\d{{2}}{_SEP}\d{{2}}{_SEP}\d{{2}}{_SEP}\d{{6}}{_SEP}\d{{4}}"
    rf"|\d{{6}}{_SEP}\d{{6}}{_SEP}\d{{4}}"
)
# 0812..., 62812..., +62 812..., (0812) ..., +62 (812) ..., +62(0)812...; digits in groups of any size.
_PHONE = (
    rf"(?:\+ ?62|62|\(0|0){_SEP}?(?:\(0\){_SEP}?)?\(?8{_DIGIT_AFTER_SEP}{{2}}\)?{_DIGIT_AFTER_SEP}{{6,10}}"
)
_PERSONAL = re.compile(
    # A UUID is consumed whole (its dashes would otherwise let a group pass for a phone number); a NIK or a phone
    # number never sits inside a longer run of letters and digits (a trace or span id).
    r"(?P<uuid>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})"
    rf"|(?P<nik>{_BEFORE}(?:{_NIK}){_AFTER})"
    rf"|(?P<phone>{_BEFORE}(?<!\+)(?:{_PHONE}){_AFTER})"
)
# Fields that hold identifiers only: never masked, even when a span id happens to be 16 decimal digits.
_IDENTIFIER_FIELDS = frozenset({"trace_id", "span_id", "parent_id"})
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _mask(match: re.Match[str]) -> str:
    if match["nik"]:
        return "[nik]"
    if match["phone"]:
        return "[phone]"
    return match[0]  # an identifier, kept whole


def mask_personal_data(text: str) -> str:
    return _PERSONAL.sub(_mask, text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": mask_personal_data(record.getMessage()),
        }
        if trace_id := current_trace_id():
            entry["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if isinstance(value, int | float | bool | None):
                entry[key] = (
                    value  # a number is never masked: a NIK logged as an int is a bug caught in review
                )
            else:
                entry[key] = str(value) if key in _IDENTIFIER_FIELDS else mask_personal_data(str(value))
        if record.exc_info:
            entry["exc"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


# uvicorn configures these with its own plain-text handlers before it calls the app factory: a traceback of
# "Exception in ASGI application" went out unmasked, and not as JSON.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def setup_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout for every logger, uvicorn's own included (call it from the app factory, after
    uvicorn configured its logging)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    # The access log quotes raw paths (tracking codes) and query strings: only its warnings are kept.
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
