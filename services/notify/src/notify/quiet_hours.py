"""Quiet hours: non-urgent SMS are not sent at night; they wait until the quiet period ends.

Configured with ``SMS_QUIET_HOURS`` (``"21:00-07:00"``, a period that may cross midnight) in the zone
``SMS_QUIET_HOURS_TZ`` (``Asia/Makassar``, WITA, by default); off when empty. Templates named in
``SMS_URGENT_TEMPLATES`` are sent at any hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["QuietHours"]

WITA = ZoneInfo("Asia/Makassar")


@dataclass(frozen=True)
class QuietHours:
    start: time | None = None
    end: time | None = None
    zone: ZoneInfo = WITA
    urgent: frozenset[str] = frozenset()

    @classmethod
    def off(cls) -> QuietHours:
        return cls()

    @classmethod
    def of(
        cls, window: tuple[time, time] | None, zone: str = "Asia/Makassar", urgent: Iterable[str] = ()
    ) -> QuietHours:
        start, end = window if window else (None, None)
        return cls(start, end, ZoneInfo(zone), frozenset(urgent))

    @property
    def enabled(self) -> bool:
        return self.start is not None and self.end is not None

    def _inside(self, local: time) -> bool:
        assert self.start is not None and self.end is not None
        if self.start < self.end:  # e.g. 12:00-13:00
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight, e.g. 21:00-07:00

    def quiet_until(self, when: datetime) -> datetime | None:
        """The end of the quiet period ``when`` falls in (aware, UTC), or None when it is not quiet."""
        if not self.enabled:
            return None
        assert self.end is not None
        local = when.astimezone(self.zone)
        if not self._inside(local.time().replace(tzinfo=None)):
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(UTC)

    def not_before(self, template: str, when: datetime) -> datetime:
        """When a message of ``template`` due at ``when`` may be sent."""
        if template in self.urgent:
            return when
        return self.quiet_until(when) or when
