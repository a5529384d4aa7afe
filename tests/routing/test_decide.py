"""Routing decisions: keep at the site what it can do, forward central-only services, refuse the rest."""

from __future__ import annotations

import pytest

from mpp_contracts.catalog import ServiceAvailability
from routing.domain import decide

CENTRAL = "mpp-tenggarong"


def service(channel: str, sites: tuple[str, ...], reason: str | None = None) -> ServiceAvailability:
    return ServiceAvailability(
        code="X-1",
        name="X",
        agency_code="X",
        channel=channel,
        central_only_reason=reason,
        completion_days=3,
        sites=sites,
    )


@pytest.mark.parametrize(
    ("svc", "origin", "outcome", "handling", "why"),
    [
        (service("local", (CENTRAL, "loa-kulu", "tabang")), "loa-kulu", "local", "loa-kulu", None),
        (service("assisted", (CENTRAL, "tabang")), "tabang", "local", "tabang", None),
        (service("central_only", (CENTRAL,), "biometrics"), "tabang", "central", CENTRAL, None),
        (service("central_only", (CENTRAL,), "biometrics"), CENTRAL, "central", CENTRAL, None),
        (service("local", (CENTRAL,)), "loa-kulu", "central", CENTRAL, None),
        (service("local", ("anggana",)), "loa-kulu", "refused", None, "not_offered"),
        (service("central_only", ("anggana",), "court"), "loa-kulu", "refused", None, "not_offered"),
        (None, "loa-kulu", "refused", None, "unknown_service"),
    ],
)
def test_decision(
    svc: ServiceAvailability | None, origin: str, outcome: str, handling: str | None, why: str | None
) -> None:
    decision = decide(svc, origin, CENTRAL)
    assert (decision.outcome, decision.handling_site_id, decision.refusal_reason) == (outcome, handling, why)


def test_central_only_decision_carries_the_reason_for_the_applicant() -> None:
    decision = decide(service("central_only", (CENTRAL,), "biometrics"), "tabang", CENTRAL)
    assert decision.central_only_reason == "biometrics"


def test_completion_counts_the_days_the_site_opens() -> None:
    from datetime import date, time

    from mpp_contracts.catalog import Hours, SiteState
    from routing.domain import NO_DAYS_OFF, add_working_days

    friday = date(2026, 12, 4)
    weekdays = SiteState(
        slug="loa-kulu",
        name="Mini MPP",
        kind="mini",
        kemendagri_code="64.02.02",
        opening_hours={d: Hours(opens=time(8), closes=time(15)) for d in ("mon", "tue", "wed", "thu", "fri")},
    )
    assert add_working_days(friday, 1, weekdays, NO_DAYS_OFF) == date(2026, 12, 7)  # Monday
    assert add_working_days(friday, 5, weekdays, NO_DAYS_OFF) == date(2026, 12, 11)
    assert add_working_days(friday, 0, weekdays, NO_DAYS_OFF) == friday
    assert add_working_days(friday, 1, None, NO_DAYS_OFF) == date(2026, 12, 7)


def test_the_calendar_knows_public_holidays_and_the_cuti_bersama_of_its_file() -> None:
    from datetime import date

    from routing.days_off import load_days_off
    from routing.settings import RoutingSettings

    days_off = load_days_off(RoutingSettings().cuti_bersama_file)
    assert days_off.name_of(date(2026, 3, 21)) == "Hari Raya Idul Fitri"
    assert days_off.name_of(date(2026, 3, 23)) == "Cuti bersama Idul Fitri"
    assert days_off.name_of(date(2027, 12, 24)) == "Cuti bersama Natal"
    assert days_off.name_of(date(2026, 12, 7)) is None


def test_a_cuti_bersama_file_without_its_source_is_refused(tmp_path) -> None:
    from pydantic import ValidationError

    from routing.days_off import load_days_off

    bad = tmp_path / "cuti.yaml"
    bad.write_text("days:\n  - {date: 2028-01-03, name: Cuti bersama}\n")
    with pytest.raises(ValidationError, match="source"):
        load_days_off(bad)


@pytest.mark.parametrize(
    "reason",
    [
        "offered_here",
        "central_only",
        "unknown_service",
        "not_offered",
        "quota_full",
        "rescheduled",
        "no_slot_to_reschedule",
        "cancelled",
        "no_show",
    ],
)
def test_every_reason_has_one_short_sentence_without_digits(reason) -> None:
    from routing.domain import reason_text

    text = reason_text(reason)
    assert text.endswith(".") and text.count(".") == 1 and len(text) <= 100
    assert not any(ch.isdigit() for ch in text)
