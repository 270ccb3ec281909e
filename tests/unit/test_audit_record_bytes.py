"""The audit chain links each event's bytes as the log holds them, and those are what encoding the decoded
event again gives: taking the record's own bytes (no re-encoding per event) leaves the chain as it was."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from events.clock import VN_TZ
from events.codec import decode, encode_value
from events.envelope import Actor, new_envelope
from events.tasks import ProgressReported
from services.audit import adapters
from services.audit.domain import GENESIS, link
from services.runtime.unit_of_work import Position

KEY = b"k" * 32


class Recording:
    """Stands in for the connection: the chain head at genesis, the inserted rows noted."""

    def __init__(self) -> None:
        self.inserted: list[Any] = []

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any]:
        return {"seq": 0, "hash": GENESIS}

    async def execute(self, sql: str, *args: Any) -> str:
        if sql.lstrip().startswith("INSERT INTO events"):
            self.inserted = list(args)
        return "OK"


def _wire(note: str) -> bytes:
    envelope = new_envelope(
        ProgressReported(percent=40, note=note),
        event_id=uuid.uuid4(),
        occurred_at=datetime(2031, 3, 2, 8, 0, tzinfo=VN_TZ),
        producer="progress",
        actor=Actor(agency_id="so-x"),
        task_id="t-1",
    )
    return encode_value(envelope)


async def test_the_chain_links_the_records_own_bytes_the_same_as_re_encoding_them() -> None:
    wires = [_wire("Đang triển khai"), _wire("Hoàn thành bước một")]
    events = [(decode(w), Position("dondoc.task-events", 0, i), w) for i, w in enumerate(wires)]
    given, encoded = Recording(), Recording()
    await adapters.append_many(given, KEY, events)  # type: ignore[arg-type]
    await adapters.append_many(encoded, KEY, [(e, p, None) for e, p, _ in events])  # type: ignore[arg-type]
    values, hashes = given.inserted[9], given.inserted[11]
    assert values == wires
    assert hashes[0] == link(KEY, GENESIS, "dondoc.task-events", 0, 0, wires[0])
    assert (values, hashes) == (encoded.inserted[9], encoded.inserted[11])
