"""What the end-to-end tests share besides the platform fixture (tests/conftest.py)."""

from __future__ import annotations

import httpx

from mpp_devstack.platform import Platform


def counter(platform: Platform, site: str, **headers: str) -> dict[str, str]:
    """Headers of a counter submit at `site`: its operator's token (counter and kiosk need one)."""
    return {"Authorization": f"Bearer {platform.operator_token(site)}", **headers}


def track(platform: Platform, site: str, tracking_code: str, phone_last4: str) -> httpx.Response:
    """Public tracking at a site: the code and the phone digits in the body, never in the URL."""
    return httpx.post(
        f"{platform.url('intake-' + site)}/applications/track",
        json={"tracking_code": tracking_code, "phone_last4": phone_last4},
        timeout=5,
    )


def provided_checklist(platform: Platform, code: str) -> list[dict[str, str]]:
    """Every mandatory requirement of the service ticked as provided, as an operator does at the counter."""
    return platform.provided_checklist(code)
