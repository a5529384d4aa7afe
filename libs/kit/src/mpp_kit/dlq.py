"""`mpp-dlq`: look at a dead-letter topic and send its messages back to where they came from.

    mpp-dlq list <topic>.dlq                        offset, key, error type, attempts, time (no payload)
    mpp-dlq inspect <topic>.dlq --offset N          headers and the payload's field names and types, no values
    mpp-dlq redrive <topic>.dlq (--offset N | --all) re-publish to the original topic, as it was

A re-driven message keeps its payload, key and event id, so a consumer that processed it already (or a second
redrive) is absorbed by its inbox: redriving is safe to repeat. Fix the cause first (deploy the corrected
consumer), then redrive. The broker and how to reach it come from the services' settings: `KAFKA_BOOTSTRAP_SERVERS`,
`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*` (mpp_kit.kafka_security).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mpp_kit.kafka_security import KafkaTarget, connection_of, kafka_connection
from mpp_kit.logs import mask_personal_data
from mpp_kit.settings import ServiceSettings

DLQ_HEADER_PREFIX = "dlq-"
REDRIVEN_FROM = "redriven-from"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    value: bytes
    headers: dict[str, str]

    @property
    def original_topic(self) -> str:
        return self.headers["dlq-original-topic"]

    @property
    def error_type(self) -> str:
        if found := self.headers.get("dlq-error-type"):
            return found
        # Dead letters written before the type had its own header: `repr(exc)` starts with the type's name.
        error = self.headers.get("dlq-error", "")
        return "unreadable" if error.startswith("unreadable event") else error.split("(", 1)[0] or "unknown"

    def summary(self) -> dict[str, Any]:
        """What `list` shows: where, what failed and when. No payload, no error text (it may quote values)."""
        return {
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "error_type": self.error_type,
            "attempts": int(self.headers.get("dlq-attempts", "0")),
            "consumer": self.headers.get("dlq-consumer"),
            "original_topic": self.headers.get("dlq-original-topic"),
            "event_id": self.headers.get("event-id"),
            "timestamp": datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(timespec="seconds"),
        }

    def inspection(self) -> dict[str, Any]:
        """What `inspect` shows: the headers (personal data masked) and the payload's shape, values redacted."""
        try:
            shape = payload_shape(json.loads(self.value))
        except ValueError:
            shape = f"<{len(self.value)} bytes, not JSON>"
        return {
            **self.summary(),
            "headers": {name: mask_personal_data(value) for name, value in self.headers.items()},
            "payload": shape,
        }


def payload_shape(value: Any) -> Any:
    """The field names and the JSON types of a payload, never its values."""
    if isinstance(value, dict):
        return {name: payload_shape(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [payload_shape(value[0])] if value else []
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string"}.get(type(value), "unknown")


async def read_dead_letters(kafka: KafkaTarget, dlq_topic: str) -> list[DeadLetter]:
    """Every message of the DLQ topic, from the beginning to the end as it is now."""
    consumer = AIOKafkaConsumer(
        dlq_topic,
        **connection_of(kafka).client_options(),
        group_id=None,  # no group: every partition is ours, no offset committed
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        if dlq_topic not in await consumer.topics():
            return []
        async with asyncio.timeout(30):
            while not (partitions := sorted(consumer.assignment())):  # noqa: ASYNC110 - aiokafka has no event for it
                await asyncio.sleep(0.05)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[DeadLetter] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batch.values():
                found += [
                    DeadLetter(
                        partition=r.partition,
                        offset=r.offset,
                        timestamp_ms=r.timestamp,
                        key=r.key.decode(errors="replace") if r.key is not None else None,
                        value=r.value or b"",
                        headers={k: v.decode(errors="replace") for k, v in r.headers},
                    )
                    for r in records
                    if r.offset < ends[TopicPartition(r.topic, r.partition)]
                ]
        return sorted(found, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def redrive(
    kafka: KafkaTarget, dlq_topic: str, *, offsets: set[int] | None, partition: int = 0
) -> list[DeadLetter]:
    """Re-publish dead letters (all, or those at `offsets` of `partition`) to their original topics."""
    chosen = [
        d
        for d in await read_dead_letters(kafka, dlq_topic)
        if offsets is None or (d.partition == partition and d.offset in offsets)
    ]
    if not chosen:
        return []
    producer = AIOKafkaProducer(**connection_of(kafka).client_options(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for dead in chosen:
            headers = {k: v for k, v in dead.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)}
            headers[REDRIVEN_FROM] = f"{dlq_topic}:{dead.partition}:{dead.offset}"
            await producer.send_and_wait(
                dead.original_topic,
                dead.value,
                key=dead.key.encode() if dead.key is not None else None,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()
    return chosen


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpp-dlq", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the dead letters of a DLQ topic, one JSON object a line")
    listing.add_argument("dlq_topic")
    inspecting = commands.add_parser("inspect", help="one dead letter: headers and payload shape")
    inspecting.add_argument("dlq_topic")
    inspecting.add_argument("--offset", type=int, required=True)
    inspecting.add_argument("--partition", type=int, default=0)
    redriving = commands.add_parser("redrive", help="re-publish to the original topic (safe to repeat)")
    redriving.add_argument("dlq_topic")
    which = redriving.add_mutually_exclusive_group(required=True)
    which.add_argument("--offset", type=int, action="append", help="may be given several times")
    which.add_argument("--all", action="store_true")
    redriving.add_argument("--partition", type=int, default=0)
    return parser


async def _run(args: argparse.Namespace, kafka: KafkaTarget) -> int:
    if not args.dlq_topic.endswith(".dlq"):
        print(f"mpp-dlq: {args.dlq_topic} is not a dead-letter topic (<topic>.dlq)", file=sys.stderr)
        return 2
    if args.command == "list":
        for dead in await read_dead_letters(kafka, args.dlq_topic):
            print(json.dumps(dead.summary()))
        return 0
    if args.command == "inspect":
        for dead in await read_dead_letters(kafka, args.dlq_topic):
            if (dead.partition, dead.offset) == (args.partition, args.offset):
                print(json.dumps(dead.inspection(), indent=2))
                return 0
        print(f"mpp-dlq: no message at {args.dlq_topic}:{args.partition}:{args.offset}", file=sys.stderr)
        return 1
    offsets = None if args.all else set(args.offset)
    sent = await redrive(kafka, args.dlq_topic, offsets=offsets, partition=args.partition)
    for dead in sent:
        print(json.dumps({"redriven": dead.summary()}))
    if offsets is not None and len(sent) < len(offsets):
        print("mpp-dlq: some offsets were not found in the DLQ", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return asyncio.run(_run(args, kafka_connection(ServiceSettings())))


if __name__ == "__main__":
    raise SystemExit(main())
