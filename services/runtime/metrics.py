"""Prometheus metrics of the shared runtime, served at /metrics by every service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HANDLER_LATENCY = Histogram(
    "dondoc_handler_seconds",
    "Time to handle one consumed event, including its transaction",
    ["service", "event_type", "outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DEAD_LETTERED = Counter("dondoc_dead_lettered_total", "Messages sent to the dead-letter topic", ["service", "topic"])
DUPLICATES = Counter("dondoc_duplicates_total", "Re-delivered events dropped by the inbox", ["service", "event_type"])
OUTBOX_BACKLOG = Gauge("dondoc_outbox_backlog", "Outbox rows not yet acknowledged by Kafka", ["schema"])
OUTBOX_PUBLISHED = Counter("dondoc_outbox_published_total", "Outbox rows published", ["schema"])
OUTBOX_PARKED = Gauge(
    "dondoc_outbox_parked",
    "Outbox rows set aside because Kafka will not take them (see `dondoc kafka parked`)",
    ["schema"],
)
CONSUMER_LAG = Gauge(
    "dondoc_consumer_lag", "Messages behind the end of each partition", ["service", "topic", "partition"]
)
TIMERS_FIRED = Counter("dondoc_timers_fired_total", "Deadline timers fired", ["service", "kind"])
