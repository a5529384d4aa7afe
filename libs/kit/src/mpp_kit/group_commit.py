"""Group commit: the database work of concurrent callers done in shared transactions.

Each caller hands over one item and awaits its own result. The items that arrive while a transaction runs go
together into the next one, so under load one commit carries many items (a burst of delivery reports, the
answers of SMS sent concurrently), and a lone item gets its transaction at once, as before: nothing waits on a
timer. A caller's result comes only after the commit that holds its item, so what it answers (HTTP 200 to a
provider) is as durable as before.

Each item runs in a savepoint of its own when it shares the transaction: one that fails is undone alone and its
caller gets the error; the others commit. An error of the transaction itself (the database away) reaches every
caller of it. An item whose caller was cancelled meanwhile is still done (its work was asked for).

Transactions that each touch several rows can deadlock with one another: the items of a batch are taken in the
order `order_by` gives (the same rows in the same order in every group, e.g. by message id), and a batch that
deadlocks anyway (with some other writer) is done again, a few times, before its callers get the error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

import asyncpg

from mpp_kit.outage import is_outage

T = TypeVar("T")
R = TypeVar("R")

# Enough to carry a burst in one commit; few enough to stay inside the 64 subtransactions PostgreSQL caches
# per backend (see consumer.BATCH_MAX_RECORDS).
MAX_ITEMS = 50
DEADLOCK_RETRIES = 3


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        work: Callable[[asyncpg.Connection, T], Awaitable[R]],
        *,
        order_by: Callable[[T], Any] | None = None,
        max_items: int = MAX_ITEMS,
    ) -> None:
        self._pool = pool
        self._work = work
        self._order_by = order_by
        self._max_items = max_items
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed (tests, benchmarks)

    async def run(self, item: T) -> R:
        """Do `work(conn, item)` in a transaction shared with whatever else is waiting; its result once committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush(), name="group-commit")
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_items]
                del self._waiting[: self._max_items]
                if self._order_by is not None:
                    order_by = self._order_by
                    batch.sort(key=lambda entry: order_by(entry[0]))
                for attempt in range(DEADLOCK_RETRIES + 1):
                    try:
                        await self._commit(batch)
                        break
                    except asyncpg.DeadlockDetectedError as exc:
                        if attempt == DEADLOCK_RETRIES:
                            _fail(batch, exc)
        finally:
            self._flushing = None

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        """One transaction for the batch; raises a deadlock (to be done again), settles every future otherwise."""
        outcomes: list[tuple[asyncio.Future[R], R | None, Exception | None]] = []
        try:
            async with self._pool().acquire() as conn, conn.transaction():
                for item, future in batch:
                    try:
                        async with conn.transaction() if len(batch) > 1 else contextlib.nullcontext():
                            outcomes.append((future, await self._work(conn, item), None))
                    except Exception as exc:
                        if (
                            is_outage(exc)
                            or isinstance(exc, asyncpg.DeadlockDetectedError)
                            or len(batch) == 1
                        ):
                            raise
                        outcomes.append((future, None, exc))
        except asyncpg.DeadlockDetectedError:
            raise
        except Exception as exc:
            _fail(batch, exc)
            return
        self.commits += 1
        for future, value, error in outcomes:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(cast(R, value))


def _fail(batch: list[tuple[Any, asyncio.Future[Any]]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
