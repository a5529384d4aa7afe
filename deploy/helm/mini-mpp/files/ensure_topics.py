"""Helm hook: create the platform's topics, idempotently, before the new release's pods start.

TOPICS (JSON) lists {name, partitions, config}. A missing topic is created; an existing one with fewer
partitions is widened (never narrowed: Kafka cannot); its config (retention, cleanup policy) is set to the
listed one. Broker security comes from the same variables the services get (KAFKA_SECURITY_PROTOCOL,
KAFKA_SASL_*, KAFKA_SSL_CAFILE).
"""

import asyncio
import json
import os
import ssl

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType


def admin_client() -> AIOKafkaAdminClient:
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, object] = {"security_protocol": protocol}
    if "SSL" in protocol:
        options["ssl_context"] = ssl.create_default_context(cafile=os.environ.get("KAFKA_SSL_CAFILE") or None)
    if "SASL" in protocol:
        options["sasl_mechanism"] = os.environ["KAFKA_SASL_MECHANISM"]
        options["sasl_plain_username"] = os.environ["KAFKA_SASL_USERNAME"]
        options["sasl_plain_password"] = os.environ["KAFKA_SASL_PASSWORD"]
    return AIOKafkaAdminClient(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], **options)


async def main() -> None:
    wanted = {t["name"]: t for t in json.loads(os.environ["TOPICS"])}
    replication = int(os.environ.get("REPLICATION_FACTOR", "1"))
    admin = admin_client()
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t["name"], t["partitions"], replication, topic_configs=t["config"])
            for name, t in wanted.items()
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        present = [name for name in wanted if name in existing]
        described = await admin.describe_topics(present) if present else []
        narrow = {
            d["topic"]: NewPartitions(wanted[d["topic"]]["partitions"])
            for d in described
            if len(d["partitions"]) < wanted[d["topic"]]["partitions"]
        }
        if narrow:
            await admin.create_partitions(narrow)
        if present:
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, wanted[name]["config"]) for name in present]
            )
        print(
            f"created {[t.name for t in missing]}, widened {sorted(narrow)}, configured {present}", flush=True
        )
    finally:
        await admin.close()


asyncio.run(main())
