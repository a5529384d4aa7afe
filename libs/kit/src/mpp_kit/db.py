"""PostgreSQL plumbing: the pool and the migrations runner."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

KIT_MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works; it only has to be the same for every process migrating the same database.
_MIGRATION_LOCK = 0x4D505031


async def _keep_session(_: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool.

    asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` at every release,
    which PostgreSQL counts as one more transaction per acquire (measured with bench/pipeline.py: about half of all
    commits). Our pooled connections keep no session state: advisory locks are transaction-scoped
    (`pg_advisory_xact_lock`), nothing runs `SET` outside a transaction, cursors live inside transactions, and
    LISTEN runs on dedicated connections. An open transaction is still rolled back by asyncpg before this runs.
    """


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=30, reset=_keep_session
    )
    assert pool is not None
    return pool


async def migrate(dsn: str, *folders: Path) -> list[str]:
    """Apply the `*.sql` files of each folder in name order, each once, each in its own transaction.

    The kit's own tables come first. An advisory lock serialises replicas starting together (and the Helm hook).
    Returns the names applied now.
    """
    applied: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for folder in (KIT_MIGRATIONS, *folders):
            prefix = "kit" if folder == KIT_MIGRATIONS else folder.parent.name
            for path in sorted(folder.glob("*.sql")):
                name = f"{prefix}/{path.name}"
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", name)
                log.info("migration applied", extra={"migration": name})
                applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        await conn.close()
    return applied


async def ping(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT true"))
    except Exception:
        return False
