"""A tiny service for breaking the consumer on purpose: one topic, one handler, one effects table.

What the handler does is written in the event itself (the ``note`` of a ProgressReported):
``ok …`` applies, ``fail …`` raises every time, ``infra:N …`` raises ConnectionRefusedError N times and
then applies, ``hang …`` applies, or never returns when the probe runs with ``hang=True``, ``gate …``
waits for ``probe.gate`` (when set) and then applies.

Also runnable as a process (``python -m tests.integration.probe_service NAME TOPIC --hang``), to be
killed with SIGKILL mid-handler; it reads DONDOC_KAFKA_BOOTSTRAP / DONDOC_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg

from events.clock import VN_TZ
from events.envelope import Actor, Envelope, deterministic_id, new_envelope
from events.tasks import ProgressReported
from services.runtime.service import ServiceDefinition, create_app
from services.runtime.settings import Settings
from services.runtime.unit_of_work import UnitOfWork

MIGRATIONS = Path(__file__).parent / "probe_migrations"


class ProbeSettings(Settings):
    def port_of(self, service: str) -> int:
        """The probe serves no HTTP; the runtime only logs its port."""
        return 0


def probe_event(note: str, *, seq: int = 0, salt: str = "", key: str = "") -> Envelope:
    """``key`` names the task the event is about (its Kafka key): events of one key stay in order."""
    return new_envelope(
        ProgressReported(percent=seq % 101, note=note),
        event_id=deterministic_id("probe", salt, note, seq),
        occurred_at=datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ),
        producer="probe",
        actor=Actor(agency_id="bd-sgddt"),
        task_id=f"probe-{salt}{key}",
    )


@dataclass
class Probe:
    name: str
    topic: str
    database_url: str
    hang: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    """Handler calls per note, this process only."""
    gate: asyncio.Event | None = None
    concurrency: int = 1

    def definition(self) -> ServiceDefinition:
        return ServiceDefinition(
            name=self.name,
            migrations=MIGRATIONS,
            topics=(self.topic,),
            handlers={ProgressReported.event_type: self.apply},
            consumer_concurrency=self.concurrency,
        )

    async def apply(self, event: Envelope, uow: UnitOfWork) -> None:
        assert isinstance(event.payload, ProgressReported) and uow.position is not None
        note = event.payload.note
        self.calls[note] += 1
        verb = note.split(" ", 1)[0]
        if verb == "fail":
            raise ValueError(f"refused on purpose: {note}")
        if verb.startswith("infra:") and self.calls[note] <= int(verb.removeprefix("infra:")):
            raise ConnectionRefusedError(111, "Connect call failed (simulated: the database is away)")
        if verb == "gate" and self.gate is not None:
            await self.gate.wait()
        if verb == "hang" and self.hang:
            await self._mark_started(event)
            await asyncio.Event().wait()
        await uow.conn.execute(
            'INSERT INTO effects (event_id, note, "offset") VALUES ($1, $2, $3)',
            event.event_id,
            note,
            uow.position.offset,
        )

    async def _mark_started(self, event: Envelope) -> None:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": self.name})
        try:
            await conn.execute("INSERT INTO handler_started (event_id) VALUES ($1)", event.event_id)
        finally:
            await conn.close()


async def _serve(name: str, topic: str, hang: bool) -> None:
    settings = ProbeSettings()
    probe = Probe(name, topic, settings.database_url, hang=hang)
    app = create_app(probe.definition(), settings)
    async with app.router.lifespan_context(app):
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("topic")
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    asyncio.run(_serve(args.name, args.topic, args.hang))
