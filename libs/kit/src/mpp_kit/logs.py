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

_ALNUM_BEFORE, _ALNUM_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_PERSONAL = re.compile(
    # A UUID is consumed whole (its dashes would otherwise let a group pass for a phone number); a NIK or a phone
    # number never sits inside a longer run of letters and digits (a trace or span id).
    r"(?P<uuid>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})"
    rf"|(?P<nik>{_ALNUM_BEFORE}\d{{16}}{_ALNUM_AFTER})"
    rf"|(?P<phone>(?<![0-9A-Za-z+])(?:\+62|62|\(0|0)[ .-]?8\d{{2}}\)?(?:[ .-]?\d){{6,10}}{_ALNUM_AFTER})"
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


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
