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
    "dondoc_consumer_lag",
    "Messages behind the end of each partition, per consumer group",
    ["service", "group", "topic", "partition"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "dondoc_outbox_oldest_unpublished_seconds",
    "Age of the oldest outbox row not yet acknowledged by Kafka (parked rows aside); 0 when none waits",
    ["schema"],
)
EVENT_LOOP_LAG = Gauge(
    "dondoc_event_loop_lag_seconds",
    "How late the event loop last woke a sleeping task (its busiest moment shows)",
    ["service"],
)
EVENT_LOOP_LAG_MAX = Gauge(
    "dondoc_event_loop_lag_max_seconds",
    "The largest event-loop lag seen since the previous metrics sample",
    ["service"],
)
TIMERS_DUE = Gauge(
    "dondoc_timers_due", "Timers whose time has come (domain clock) and that have not fired", ["service"]
)
TIMERS_LATE = Gauge(
    "dondoc_timers_late",
    "Due timers not fired within a minute of their time (a stuck or overloaded timer loop)",
    ["service"],
)
TIMERS_OLDEST_DUE_AGE = Gauge(
    "dondoc_timers_oldest_due_seconds",
    "How long the oldest due, unfired timer has been due; 0 when none",
    ["service"],
)
TIMERS_FIRED = Counter("dondoc_timers_fired_total", "Deadline timers fired", ["service", "kind"])
