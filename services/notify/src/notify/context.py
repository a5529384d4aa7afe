"""What notify's routes and handlers share: one object per app, built by ``create_app`` and kept as
``app.state.context``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from mpp_kit.group_commit import GroupCommit
from notify import reports
from notify.dispatch import Dispatcher
from notify.quiet_hours import QuietHours
from notify.settings import NotifySettings

__all__ = ["NotifyContext"]


@dataclass
class NotifyContext:
    settings: NotifySettings
    quiet: QuietHours
    pool: asyncpg.Pool | None = None  # set when the runtime has started
    dispatcher: Dispatcher | None = None  # set when the runtime has started
    # Delivery reports of concurrent webhook calls applied together: one commit per burst, not per report.
    delivery_reports: GroupCommit[Sequence[reports.Report], int] = field(init=False)

    def __post_init__(self) -> None:
        self.delivery_reports = GroupCommit(
            lambda: self.db, reports.apply_reports, order_by=reports.lock_order
        )

    @property
    def db(self) -> asyncpg.Pool:
        # Routes are served only after the lifespan started the runtime, so this never fails in service.
        if self.pool is None:
            raise RuntimeError("notify has not started")
        return self.pool

    @property
    def contact_key(self) -> str:
        """The key that opens the sealed phone numbers of events."""
        return self.settings.contact_sealing_key.get_secret_value()

    def wake(self) -> None:
        """A message is due now: the dispatcher looks at once instead of at its next poll."""
        if self.dispatcher is not None:
            self.dispatcher.wake()
