"""Transactional outbox: write an event in the same transaction as the business change.

`enqueue` only inserts a row; the `OutboxRelay` (relay.py) publishes it to Kafka and deletes it after the broker
acknowledged. The current trace context goes into the row, so the trace continues from the writer, not the relay.
"""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg
from opentelemetry import propagate

from mpp_contracts.base import IntegrationEvent

NOTIFY_CHANNEL = "mpp_outbox"


async def enqueue(
    conn: asyncpg.Connection,
    topic: str,
    key: str,
    event: IntegrationEvent | None,
    *,
    event_id: UUID | None = None,
) -> None:
    """Add an event to the outbox. `event=None` writes a tombstone for `key` (needs `event_id`)."""
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue must run inside the transaction of the business change")
    headers: dict[str, str] = {}
    propagate.inject(headers)
    if event is not None:
        headers["event-type"] = type(event).__name__
        payload: bytes | None = event.model_dump_json().encode()
        eid = event.event_id
    else:
        if event_id is None:
            raise ValueError("a tombstone needs an event_id")
        payload, eid = None, event_id
    # With a wake-up hint for the relay, delivered at commit (the relay also polls, so a lost NOTIFY only delays),
    # in the same statement: one round trip per event, not two.
    await conn.execute(
        "WITH added AS (INSERT INTO outbox(event_id, topic, key, payload, headers)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id) SELECT pg_notify($6, '') FROM added",
        eid,
        topic,
        key,
        payload,
        json.dumps(headers),
        NOTIFY_CHANNEL,
    )
