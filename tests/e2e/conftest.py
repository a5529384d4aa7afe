"""What the end-to-end tests share besides the platform fixture (tests/conftest.py)."""

from __future__ import annotations

import httpx

from mpp_devstack.platform import Platform


def provided_checklist(platform: Platform, code: str) -> list[dict[str, str]]:
    """Every mandatory requirement of the service ticked as provided, as an operator does at the counter (the
    catalogue says which ones a service has)."""
    detail = httpx.get(f"{platform.url('catalog')}/services/{code}", timeout=5).json()
    return [
        {"requirement": item["name"], "provided": item["form"]}
        for item in detail.get("requirements", [])
        if isinstance(item, dict) and not item.get("optional")
    ]
