"""Create the topics a service needs (idempotent): at service start locally, as a Helm hook Job in a cluster."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from mpp_contracts.topics import Topic
from mpp_kit.kafka_security import KafkaTarget, connection_of


async def ensure_topics(
    kafka: KafkaTarget, topics: Iterable[Topic], replication_factor: int = 1
) -> list[str]:
    wanted: dict[str, Topic] = {}
    for topic in topics:
        wanted[topic.name] = topic
        if not topic.compacted:
            wanted[topic.dlq] = Topic(topic.dlq, partitions=1)
    admin = AIOKafkaAdminClient(**connection_of(kafka).client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=t.name,
                num_partitions=t.partitions,
                replication_factor=replication_factor,
                topic_configs={"cleanup.policy": "compact"} if t.compacted else {},
            )
            for name, t in wanted.items()
            if name not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except Exception as exc:
                # Another replica may have created them a moment ago.
                if "TopicAlreadyExists" not in type(exc).__name__ + str(exc):
                    raise
        return [t.name for t in new]
    finally:
        await admin.close()
