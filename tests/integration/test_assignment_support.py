"""Shared helpers of the assignment service's integration tests (this module holds no test).

* ``prepared``: the seed directory loaded (idempotent) and a fresh token for each agency asked for;
* ``kafka_records``: what a topic holds, read from the beginning by a group-less consumer, until a
  condition holds or a deadline passes (no sleeping to synchronise);
* ``outbox_events``: the events the service wrote for a key, before the relay even ran.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from events.clock import VN_TZ, ManualClock
from services.assignment import provision
from services.assignment.tokens import IssuedToken
from services.runtime.kafka_config import client_options
from services.runtime.settings import Settings

# Inside the Danh mục's time: after letter 6958 (21/11/2022), before its first deadline (30/11/2022).
NOW = datetime(2022, 11, 25, 9, 0, tzinfo=VN_TZ)


def clock() -> ManualClock:
    return ManualClock(NOW)


async def prepared(settings: Any, *agency_ids: str) -> dict[str, IssuedToken]:
    return await provision.prepare(settings.database_url, clock(), settings.token_secret, list(agency_ids))


def bearer(token: IssuedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.token}"}


def body(lead: str = "bd-sgddt", *, key: str, deadline: str = "Tháng 3/2023", **fields: Any) -> dict[str, Any]:
    return {
        "title": "Triển khai thanh toán học phí trực tuyến trên Cổng Dịch vụ công của tỉnh",
        "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
        "lead_agency_id": lead,
        "deadline": deadline,
        "idempotency_key": key,
        **fields,
    }


async def outbox_events(database_url: str, key: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        # Not the agencies' own copies of rejections (services/runtime/agency_rejections.py): one answer each.
        rows = await conn.fetch(
            "SELECT value FROM assignment.outbox WHERE key = $1 AND topic NOT LIKE 'dondoc.intake.rejected.%' "
            "ORDER BY id",
            key,
        )
    finally:
        await conn.close()
    return [json.loads(bytes(r["value"])) for r in rows]


async def kafka_records(
    kafka: Settings,
    topic: str,
    done: Callable[[list[Any]], bool],
    *,
    keep: Callable[[Any], bool] = lambda r: True,
    within: float = 20.0,
) -> list[Any]:
    """Records of ``topic`` that ``keep`` accepts, once ``done`` says they are all there."""
    # No group: every partition, from the first record, nothing committed.
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        kept: list[Any] = []
        deadline = time.monotonic() + within
        while not done(kept):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within}s reading {topic}; kept {len(kept)} records")
            batches = await consumer.getmany(timeout_ms=200)
            kept += [r for batch in batches.values() for r in batch if keep(r)]
        return kept
    finally:
        await consumer.stop()


def payload(record: Any) -> dict[str, Any]:
    return json.loads(record.value)  # type: ignore[no-any-return]
