"""``dondoc drill load``: a realistic mix of commands through the public ways in, each with a known id.

What an agency does, paced at ``rate`` commands per second, ``events`` commands in all:

* assign a task (HTTP with the province's token; one in seven as a signed record on ``dondoc.intake``),
  some with a deadline already past, so progress' deadline timers fire and alerts raise "overdue";
* the lead agency reports progress, hands part down to a school (cascade), asks for an extension;
* the lead reports completion and the assigner confirms it;
* about one command in a hundred is bad on purpose: an HTTP call with a forged token (must be 401) and
  an intake record with no signature (must be answered by an IntakeRejected) — refused, never lost.

A command is retried with its idempotency key after a 5xx or a broken connection (the API's rule:
the safe answer to any 5xx), and a follow-up waits while the task is not yet known where it goes (404).
The ledger keeps, for each command, what was sent and what the system answered; ``drill check`` counts
against it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from drills.stack import Target
from events.intake import signed_headers, signing_key
from events.topics import INTAKE
from services.assignment.tasks.rules import task_id_for
from services.runtime.kafka_config import producer_options

ASSIGNER, LEAD, SCHOOL = "ubnd-bd", "bd-sgddt", "bd-thpt-binh-duong"
GIVE_UP_S = 300.0  # longer than any fault a drill injects: a command still refused after this is reported
IN_FLIGHT = 48
BAD_EVERY = 30  # one task's chain in this many is a bad record instead (a forged token, an unsigned intake)
DOC = {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"}
# A follow-up command: the service it goes to, its route under /v1/tasks/{task_id}/, the agency that sends it.
FOLLOW_UPS = {
    "progress": ("progress", "progress", LEAD),
    "delegate": ("assignment", "delegations", LEAD),
    "extension": ("assignment", "extensions", LEAD),
    "complete": ("progress", "complete", LEAD),
    "confirm": ("progress", "confirm", ASSIGNER),
}


@dataclass
class Sent:
    """One command of the load and what became of it."""

    op: str  # assign, progress, delegate, extension, complete, confirm, bad-token, bad-intake
    via: str  # http or intake
    key: str
    task_id: str
    outcome: str = ""  # accepted, refused, gave-up, rejected (a bad one, as it should be)
    status: int = 0
    event_id: str = ""
    children: list[str] = field(default_factory=list)
    retries: int = 0


@dataclass
class Ledger:
    run: str
    sent: list[Sent] = field(default_factory=list)
    seconds: float = 0.0

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"run": self.run, "seconds": self.seconds})]
        lines += [json.dumps(asdict(s), ensure_ascii=False) for s in self.sent]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Ledger:
        head, *rows = path.read_text(encoding="utf-8").splitlines()
        meta = json.loads(head)
        return cls(meta["run"], [Sent(**json.loads(r)) for r in rows if r.strip()], meta["seconds"])

    def accepted(self, *ops: str) -> list[Sent]:
        return [s for s in self.sent if s.outcome == "accepted" and (not ops or s.op in ops)]

    def tasks(self) -> set[str]:
        """Every task the load made exist: assigned ones and the children of accepted cascades."""
        made = {s.task_id for s in self.accepted("assign")}
        for s in self.accepted("delegate"):
            made.update(s.children)
        return made


class Pace:
    """``rate`` starts per second, evenly (not in bursts), however long each command takes."""

    def __init__(self, rate: float) -> None:
        self.interval, self.next = 1.0 / rate, time.monotonic()

    async def wait(self) -> None:
        self.next = max(self.next + self.interval, time.monotonic() - 1.0)
        if (delay := self.next - time.monotonic()) > 0:
            await asyncio.sleep(delay)


def _nothing(done: int) -> None:
    pass


class Load:
    def __init__(
        self, target: Target, events: int, rate: float, *, seed: int = 17, progress: Callable[[int], None] = _nothing
    ) -> None:
        self.target, self.events, self.rate = target, events, rate
        self.rng = random.Random(seed)
        self.ledger = Ledger(run=uuid.uuid4().hex[:10])
        self.progress = progress
        self.budget = events
        self.gate = asyncio.Semaphore(IN_FLIGHT)
        self.pace = Pace(rate)

    async def run(self) -> Ledger:
        started = time.monotonic()
        producer = AIOKafkaProducer(**producer_options(self.target.kafka), enable_idempotence=True, acks="all")
        await producer.start()
        try:
            async with httpx.AsyncClient(timeout=15.0) as http:
                self.http, self.producer = http, producer
                chains: list[asyncio.Task[None]] = []
                n = 0
                while self.budget > 0:
                    await self.gate.acquire()
                    chains.append(asyncio.create_task(self._chain(n)))
                    n += 1
                await asyncio.gather(*chains)
        finally:
            await producer.stop()
        self.ledger.seconds = time.monotonic() - started
        return self.ledger

    def _take(self) -> bool:
        """One command of the budget, paced; False when the budget is spent."""
        if self.budget <= 0:
            return False
        self.budget -= 1
        return True

    async def _chain(self, n: int) -> None:
        """One task's life: assigned, then what its agencies do with it."""
        try:
            key = f"drill-{self.ledger.run}-{n}"
            task_id = task_id_for(ASSIGNER, key)
            if n % BAD_EVERY == BAD_EVERY - 1 and self._take():
                await self.pace.wait()
                await self._bad(key, task_id, intake=(n // BAD_EVERY) % 2 == 1)
                return
            if not self._take():
                return
            await self.pace.wait()
            past_due = self.rng.random() < 0.1
            if self.rng.random() < 1 / 7:
                await self._assign_by_intake(key, task_id, past_due)
                return  # its follow-ups need the task known by HTTP answers; intake's answer is on Kafka
            assigned = await self._assign(key, task_id, past_due)
            if assigned.outcome != "accepted":
                return
            r = self.rng.random()
            if r < 0.5 and self._take():
                await self.pace.wait()
                await self._progress(key, task_id)
            delegated = False
            if self.rng.random() < 0.15 and self._take():
                await self.pace.wait()
                delegated = (await self._delegate(key, task_id)).outcome == "accepted"
            if self.rng.random() < 0.1 and self._take():
                await self.pace.wait()
                await self._extension(key, task_id)
            if self.rng.random() < 0.25 and self._take():
                await self.pace.wait()
                if (await self._complete(key, task_id, delegated)).outcome == "accepted" and self._take():
                    await self.pace.wait()
                    await self._confirm(key, task_id)
        finally:
            self.progress(self.events - self.budget)
            self.gate.release()

    # -- the commands -----------------------------------------------------------------------------

    async def _assign(self, key: str, task_id: str, past_due: bool) -> Sent:
        body = _assign_body(key, past_due)
        return await self._post(Sent("assign", "http", key, task_id), "assignment", "/v1/tasks", body, ASSIGNER)

    async def _assign_by_intake(self, key: str, task_id: str, past_due: bool) -> None:
        command = {"command_type": "AssignTask", "command_id": key, "payload": _assign_body(key, past_due)}
        value = json.dumps(command, ensure_ascii=False).encode()
        token = self.target.tokens[ASSIGNER]
        signing = signing_key(self.target.token_secret, ASSIGNER, token.token_id)
        sent = Sent("assign", "intake", key, task_id)
        await self._publish(sent, value, signed_headers(signing, ASSIGNER, token.token_id, value, time.time()))

    async def _progress(self, key: str, task_id: str) -> None:
        body = {"percent": self.rng.randrange(5, 95), "note": "Đã triển khai một phần"}
        await self._follow_up("progress", key, task_id, body)

    async def _delegate(self, key: str, task_id: str) -> Sent:
        return await self._follow_up("delegate", key, task_id, {"children": [{"lead_agency_id": SCHOOL}]})

    async def _extension(self, key: str, task_id: str) -> None:
        await self._follow_up("extension", key, task_id, {"proposed_due": "Quý I năm 2031", "reason": "Chờ kinh phí"})

    async def _complete(self, key: str, task_id: str, delegated: bool) -> Sent:
        body = {"product": "Công văn số 1/SGDĐT ngày 01/12/2022"}
        if delegated:  # the school's part is still open: the lead says why it completes anyway
            body["open_children_override"] = "Phần của trường đã lồng ghép vào báo cáo chung"
        return await self._follow_up("complete", key, task_id, body)

    async def _confirm(self, key: str, task_id: str) -> None:
        await self._follow_up("confirm", key, task_id, {})

    async def _follow_up(self, op: str, key: str, task_id: str, body: dict[str, Any]) -> Sent:
        """A command on an assigned task, its idempotency key derived from the task's."""
        service, route, agency = FOLLOW_UPS[op]
        own_key = f"{key}-{op}"
        sent = Sent(op, "http", own_key, task_id)
        return await self._post(
            sent, service, f"/v1/tasks/{task_id}/{route}", {**body, "idempotency_key": own_key}, agency
        )

    async def _bad(self, key: str, task_id: str, *, intake: bool) -> None:
        if intake:  # an agency system's record with no signature: refused on dondoc.intake.rejected
            await self._publish(Sent("bad-intake", "intake", key, task_id), b'{"command_type": "AssignTask"', [])
            return
        sent = Sent("bad-token", "http", key, task_id)
        forged = {"Authorization": "Bearer forged.token.value"}
        await self._post(sent, "assignment", "/v1/tasks", _assign_body(key, False), forged)
        if sent.status == 401:
            sent.outcome = "rejected"  # as it must be; anything else is counted as let through

    # -- transport --------------------------------------------------------------------------------

    async def _post(self, sent: Sent, service: str, path: str, body: dict[str, Any], who: str | dict[str, str]) -> Sent:
        """POST as agency ``who`` (or with the headers given), retried with the same body while the answer is
        a 5xx, a 404 (the task not there yet) or no answer at all."""
        url = f"{self.target.urls[service]}{path}"
        headers = self.target.headers_for(who) if isinstance(who, str) else who
        deadline, delay = time.monotonic() + GIVE_UP_S, 0.2
        self.ledger.sent.append(sent)
        while True:
            try:
                answer = await self.http.post(url, json=body, headers=headers)
                sent.status = answer.status_code
                if answer.is_success:
                    sent.outcome = "accepted"
                    _note_answer(sent, answer.json())
                    return sent
                # 404: the task has not reached this service yet; 5xx: an outage, retried with the same key.
                if answer.status_code != 404 and answer.status_code < 500:
                    sent.outcome = "refused"
                    return sent
            except httpx.HTTPError:
                sent.status = 0
            if time.monotonic() > deadline:
                sent.outcome = "gave-up"
                return sent
            sent.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _publish(self, sent: Sent, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.ledger.sent.append(sent)
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            try:
                await asyncio.wait_for(
                    await self.producer.send(INTAKE, value=value, key=ASSIGNER.encode(), headers=headers), 60
                )
                sent.outcome = "accepted" if sent.op == "assign" else "rejected"
                return
            except Exception:
                if time.monotonic() > deadline:
                    sent.outcome = "gave-up"
                    return
                sent.retries += 1
                await asyncio.sleep(1.0)


def _note_answer(sent: Sent, body: dict[str, Any]) -> None:
    sent.event_id = str(body.get("event_id") or "")
    if sent.op == "delegate":
        sent.children = [c["task_id"] for c in body.get("children", [])]


def _assign_body(key: str, past_due: bool) -> dict[str, Any]:
    return {
        "title": "Triển khai thanh toán học phí trực tuyến",
        "source_document": DOC,
        "lead_agency_id": LEAD,
        "deadline": "Tháng 11/2022" if past_due else "Quý IV năm 2030",
        "idempotency_key": key,
    }
