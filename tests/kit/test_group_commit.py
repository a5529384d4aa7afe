"""Group commit on the real database: concurrent callers share transactions, a bad item fails alone."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from mpp_kit.db import create_pool
from mpp_kit.group_commit import GroupCommit


@pytest.fixture
async def pool(database: str):
    async with await create_pool(database) as p:
        await p.execute("CREATE TABLE answer (message text PRIMARY KEY, started timestamptz)")
        yield p


async def record(conn: asyncpg.Connection, message: str) -> str:
    if message == "bad":
        raise ValueError("not a message")
    await conn.execute("INSERT INTO answer VALUES ($1, now())", message)
    return message.upper()


async def test_concurrent_callers_share_commits_and_each_gets_its_own_result(pool: asyncpg.Pool) -> None:
    group: GroupCommit[str, str] = GroupCommit(lambda: pool, record, order_by=lambda m: m)
    names = [f"m{i:02}" for i in range(40)]
    results = await asyncio.gather(*(group.run(name) for name in names))
    assert results == [name.upper() for name in names]
    # now() is the start of a transaction: 40 items, a few transactions (the first alone, then the rest together).
    assert await pool.fetchval("SELECT count(DISTINCT started) FROM answer") == group.commits <= 3
    assert await pool.fetchval("SELECT count(*) FROM answer") == 40


async def test_a_failing_item_fails_alone_and_the_others_commit(pool: asyncpg.Pool) -> None:
    group: GroupCommit[str, str] = GroupCommit(lambda: pool, record)
    results = await asyncio.gather(*(group.run(m) for m in ["a", "b", "bad", "c"]), return_exceptions=True)
    assert results[:2] == ["A", "B"] and isinstance(results[2], ValueError) and results[3] == "C"
    assert sorted(r["message"] for r in await pool.fetch("SELECT message FROM answer")) == ["a", "b", "c"]


async def test_a_database_that_does_not_answer_fails_every_caller_of_the_batch(database: str) -> None:
    pool = await create_pool(database)
    await pool.close()  # every acquire fails now, as in an outage
    group: GroupCommit[str, str] = GroupCommit(lambda: pool, record)
    results = await asyncio.gather(*(group.run(m) for m in ["a", "b"]), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
