"""Which of intake's events routing's consumer takes at all (the others are skipped before any transaction)."""

from __future__ import annotations

from typing import get_args
from uuid import uuid4

import pytest

from mpp_contracts.intake import ApplicationStatus, ApplicationStatusChanged
from routing.domain import ARRIVED, concerns_routing
from tests.routing.conftest import submitted


def status_changed(status: str) -> ApplicationStatusChanged:
    return ApplicationStatusChanged.model_validate(
        {
            "application_id": uuid4(),
            "tracking_code": "ABCD-EFGH",
            "site_id": "tabang",
            "service_code": "IMIGRASI-PASPOR",
            "status": status,
            "applicant_first_name": "Rahmat",
            "sealed_phone": "sealed",
        }
    )


def test_a_submit_concerns_routing() -> None:
    assert concerns_routing(submitted("DUKCAPIL-AKTA-LAHIR"))


@pytest.mark.parametrize("status", get_args(ApplicationStatus))
def test_only_cancellations_and_arrivals_among_status_changes(status: str) -> None:
    assert concerns_routing(status_changed(status)) == (status == "cancelled" or status in ARRIVED)
