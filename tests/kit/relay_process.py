"""An outbox relay in a process of its own, for tests that kill it: `python relay_process.py DSN BOOTSTRAP`.

It runs the real relay, unchanged, until it is killed; the test decides when, from outside.
"""

from __future__ import annotations

import asyncio
import sys

from mpp_kit.db import create_pool
from mpp_kit.relay import OutboxRelay


async def main(dsn: str, bootstrap: str) -> None:
    pool = await create_pool(dsn)
    relay = OutboxRelay(dsn, pool, bootstrap, poll_interval_s=0.2, lease_s=1, batch_size=10)
    await relay.start()
    print("relay started", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
