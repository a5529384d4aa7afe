"""The catalogue held in memory for the public reads and search."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from catalog import repository
from catalog.domain import Catalogue
from catalog.search import SearchIndex

log = logging.getLogger(__name__)


class Snapshot:
    """The current catalogue and its search index, rebuilt after each change made through this process and
    every `refresh_s` seconds (changes made through another replica)."""

    def __init__(self) -> None:
        self.catalogue = Catalogue.model_construct(agencies=[], services=[], sites=[], schedules=[])
        self.index = SearchIndex([])
        self.loaded = False
        self._follower: asyncio.Task[None] | None = None

    async def refresh(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            catalogue = await repository.current(conn)
        self.catalogue, self.index, self.loaded = catalogue, SearchIndex.of(catalogue), True

    async def start(self, pool: asyncpg.Pool, refresh_s: float) -> None:
        """Load the catalogue, then keep following the database in the background until `stop`."""
        await self.refresh(pool)
        self._follower = asyncio.create_task(self._follow(pool, refresh_s))

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None

    async def _follow(self, pool: asyncpg.Pool, refresh_s: float) -> None:
        while True:
            await asyncio.sleep(refresh_s)
            try:
                await self.refresh(pool)
            except Exception:
                log.exception("catalogue snapshot refresh failed")
