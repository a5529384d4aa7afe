"""A periodic step keeps running after it fails, and stops with the service."""

from __future__ import annotations

import asyncio

from mpp_kit.periodic import Periodic


async def test_a_failing_step_is_tried_again_and_stop_ends_the_loop() -> None:
    calls: list[int] = []

    async def step() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise ConnectionRefusedError("the database is away")

    task = Periodic("test-periodic", 0.01, step)
    await task.start()
    async with asyncio.timeout(5):
        while len(calls) < 3:
            await asyncio.sleep(0.01)
    assert task.running
    await task.stop()
    assert not task.running
    stopped_at = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == stopped_at
