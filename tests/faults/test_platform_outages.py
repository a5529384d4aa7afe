"""PostgreSQL and the Kafka broker killed (SIGKILL) and started again under a stream of submits: every accepted
application texted exactly once and its SMS delivered, nothing but poison in a dead-letter topic, and every
submit refused meanwhile a 503 with Retry-After.

Every service is a process on a broker and a database server of this module's own (`own_stack`), so the kills
disturb no other test; the server comes back on the same port with the same data directory, as a restarted pod
on its volume does. Each scenario publishes one unreadable event (the DLQ's legitimate business) and prints its
figures (accepted / delivered once / lost / duplicated / refused / not delivered / left in DLQ) before asserting,
so `pytest -s` on older code gives the "before" figures too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from mpp_devstack.stack import OwnStack, own_stack
from tests.faults.notify_fixtures import SITE
from tests.faults.outage_fixtures import (
    OutageTally,
    dead_letters,
    publish_poison,
    settled,
    submit_until,
)

pytestmark = pytest.mark.slow

SUBMITS_PER_S = 3.0
BEFORE_S = 4.0  # the stream runs this long before the kill...
DOWN_S = 6.0  # ...the server stays away this long...
AFTER_S = 4.0  # ...and the stream goes on this long after it is back
SETTLE_S = 45.0


@pytest.fixture(scope="module")
def stack(platform_secrets: dict[str, str]) -> Iterator[OwnStack]:
    with own_stack(platform_secrets, sites=(SITE,), prefix="outage") as running:
        yield running


async def outage_under_a_stream(
    stack: OwnStack,
    tally: OutageTally,
    scenario: int,
    kill: Callable[[], None],
    start_again: Callable[[], object],
    poison_while_down: bool,
) -> bool:
    """Run the stream across kill, outage and start again; then wait for the platform to settle and count."""
    platform = stack.platform
    before = set(await dead_letters(platform.kafka_bootstrap))
    stop = asyncio.Event()
    stream = asyncio.create_task(submit_until(platform, scenario, SUBMITS_PER_S, stop, tally))
    try:
        await asyncio.sleep(BEFORE_S)
        if not poison_while_down:
            await publish_poison(platform, tally.scenario)
        tally.server_down = True
        kill()
        if poison_while_down:
            await publish_poison(platform, tally.scenario)
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(start_again)  # the stream keeps submitting while the server starts
        tally.server_down = False
        await asyncio.sleep(AFTER_S)
    finally:
        stop.set()
        await stream
        if tally.server_down:  # the scenario failed half-way: the next one needs the server back
            await asyncio.to_thread(start_again)
    recovered = await settled(platform, tally, SETTLE_S)
    tally.dead_letters = [d for d in await dead_letters(platform.kafka_bootstrap) if d not in before]
    exited = {n: p.proc.returncode for n, p in platform.processes.items() if p.proc.poll() is not None}
    print(tally.report(), f"services_exited={exited}")
    return recovered


def assert_nothing_lost_doubled_or_refused_badly(tally: OutageTally, recovered: bool) -> None:
    assert tally.accepted, "the stream had submits accepted"
    assert set(tally.refused.values()) <= {503}, f"refusals other than 503: {tally.refused}"
    assert tally.refusals_without_retry_after == 0, "every 503 says when to retry"
    assert tally.lost == 0, "every accepted application got its SMS"
    assert tally.duplicated == 0, "no accepted application got its SMS twice"
    assert recovered and tally.not_delivered == 0, (
        "every accepted application's one SMS ends delivered in notify: "
        f"{ {a: s for a, s in tally.statuses.items() if s != ['delivered']} }"
    )
    assert tally.left_in_dlq == 0, "nothing but poison in the DLQs: " + ", ".join(
        sorted({d.topic for d in tally.dead_letters if not d.poison})
    )
    assert any(d.poison for d in tally.dead_letters), "the poison went to the DLQ (the check can see one)"


async def test_postgresql_killed_and_started_again_under_a_stream_of_submits(stack: OwnStack) -> None:
    tally = OutageTally("postgresql-sigkill")
    recovered = await outage_under_a_stream(
        stack,
        tally,
        scenario=1,
        kill=stack.postgres.kill,
        start_again=stack.postgres.start,
        poison_while_down=True,  # an unreadable event needs no database to be dead-lettered
    )
    assert tally.refused, "the stream met the outage (some submits were refused meanwhile)"
    assert_nothing_lost_doubled_or_refused_badly(tally, recovered)


async def test_kafka_broker_killed_and_started_again_under_a_stream_of_submits(stack: OwnStack) -> None:
    tally = OutageTally("kafka-sigkill")
    recovered = await outage_under_a_stream(
        stack,
        tally,
        scenario=2,
        kill=stack.kafka.kill,
        start_again=stack.kafka.start,
        poison_while_down=False,
    )
    assert tally.accepted_while_down, (
        "intake takes applications while the broker is away (its outbox keeps them)"
    )
    assert_nothing_lost_doubled_or_refused_badly(tally, recovered)
