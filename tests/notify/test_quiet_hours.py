"""Quiet hours: when a non-urgent SMS may go out (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from notify.quiet_hours import QuietHours
from notify.settings import parse_quiet_hours

NIGHT = QuietHours.of(parse_quiet_hours("21:00-07:00"), "Asia/Makassar", urgent={"diteruskan_ke_pusat"})


def wita(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=NIGHT.zone)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (wita(20, 59), None),
        (wita(21, 0), wita(7, 0, day=8)),
        (wita(23, 30), wita(7, 0, day=8)),
        (wita(0, 0, day=8), wita(7, 0, day=8)),
        (wita(6, 59, day=8), wita(7, 0, day=8)),
        (wita(7, 0, day=8), None),
        (wita(12, 0), None),
    ],
)
def test_overnight_window(now: datetime, until: datetime | None) -> None:
    assert NIGHT.quiet_until(now) == until
    assert (NIGHT.not_before("permohonan_diterima", now) != now) == (until is not None)


def test_result_is_utc_and_input_zone_does_not_matter() -> None:
    at_utc = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 22:00 WITA
    end = NIGHT.quiet_until(at_utc)
    assert end == datetime(2026, 12, 7, 23, 0, tzinfo=UTC) and end.tzinfo == UTC


def test_daytime_window() -> None:
    lunch = QuietHours.of((time(12, 0), time(13, 0)), "Asia/Jakarta")
    assert lunch.quiet_until(datetime(2026, 1, 5, 12, 30, tzinfo=lunch.zone)) == datetime(
        2026, 1, 5, 13, 0, tzinfo=lunch.zone
    )
    assert lunch.quiet_until(datetime(2026, 1, 5, 13, 0, tzinfo=lunch.zone)) is None


def test_urgent_templates_and_off() -> None:
    assert NIGHT.not_before("diteruskan_ke_pusat", wita(23)) == wita(23)
    assert NIGHT.not_before("permohonan_diterima", wita(23)) == wita(7, day=8)
    assert NIGHT.not_before("permohonan_diterima", wita(10)) == wita(10)
    off = QuietHours.off()
    assert not off.enabled and off.quiet_until(wita(23)) is None and off.not_before("x", wita(23)) == wita(23)


@pytest.mark.parametrize("bad", ["21-07", "25:00-07:00", "21:00-21:00", "21:60-07:00", "tonight"])
def test_bad_windows_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_quiet_hours(bad)


def test_empty_means_off() -> None:
    assert parse_quiet_hours("") is None and parse_quiet_hours("  ") is None
