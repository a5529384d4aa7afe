"""The metrics every service exports from the kit, in one place (services add their own beside their code).

Labels take bounded values only: route templates (never a raw path: paths carry tracking codes), method names
from a fixed set, status codes, topic names, consumer names and partitions (all fixed by configuration). Never
a tracking code, an application id, a phone number or a NIK.

| metric | type | labels | set by |
|---|---|---|---|
| `http_requests_total` | counter | method, route, status | `http.TracingMiddleware` |
| `http_request_duration_seconds` | histogram | method, route | `http.TracingMiddleware` |
| `broker_reachable` | gauge | | `runtime.ServiceRuntime.readiness` |
| `outbox_backlog` | gauge | | `relay.OutboxRelay`, every `OUTBOX_METRICS_INTERVAL_S` |
| `outbox_oldest_age_seconds` | gauge | | `relay.OutboxRelay` (0 when the outbox is empty) |
| `outbox_published_total` | counter | topic | `relay.OutboxRelay` (acknowledged by the broker) |
| `consumer_messages_total` | counter | consumer, topic, result | `consumer.InboxConsumer` |
| `consumer_dead_letters_total` | counter | consumer, topic | `consumer.InboxConsumer` (sent to `<topic>.dlq`) |
| `consumer_lag` | gauge | consumer, topic, partition | `consumer.InboxConsumer`, at each message |
| `read_model_items` | gauge | topic | `readmodel.ReadModel` |
| `read_model_loaded` | gauge | topic | `readmodel.ReadModel` (1 once the copy is complete) |

`consumer_lag` is what the consumer saw when it last handled a message (the partition's high watermark from
its last fetch minus the next offset): a consumer that stopped, or never started, exports nothing. The alert on
lag therefore stands on a Kafka exporter scraping the brokers (`kafka_consumergroup_lag`), which sees the
committed offsets of every group whether or not its consumers run.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

BROKER_REACHABLE = Gauge(
    "broker_reachable", "1 when the Kafka broker answered the last readiness check, else 0"
)

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published (committed events waiting)")
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest outbox row not yet published (0 when there is none)"
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Outbox rows published and acknowledged by the broker", ["topic"]
)

CONSUMER_MESSAGES = Counter(
    "consumer_messages_total",
    "Messages handled by an inbox consumer, by result",
    ["consumer", "topic", "result"],  # processed, skipped, duplicate, retried, outage, dead_lettered
)
CONSUMER_DEAD_LETTERS = Counter(
    "consumer_dead_letters_total",
    "Messages a consumer gave up on and sent to <topic>.dlq",
    ["consumer", "topic"],
)
CONSUMER_LAG = Gauge(
    "consumer_lag",
    "Messages behind the partition's end when the consumer last handled one of its messages",
    ["consumer", "topic", "partition"],
)

READ_MODEL_ITEMS = Gauge("read_model_items", "Keys held by a read model of a compacted topic", ["topic"])
READ_MODEL_LOADED = Gauge(
    "read_model_loaded", "1 once the read model holds the whole topic, else 0", ["topic"]
)
