"""The faults a drill injects into its running stack, one function each.

A fault is ``async def fault(stack, timeline, plan) -> list[Fault]``: it runs beside the load, does
what it does when it does (saying so on the timeline), and returns what it did with when each fault
ended, from which the drill measures recovery. ``FAULTS`` maps drill names to them: a new drill (the
``cluster`` one: kill the partition leader of a 3-broker cluster, bring it back) is one more function
here and one more entry, given a stack that knows its brokers.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from drills.stack import DrillStack, Timeline
from events.topics import SERVICES, TASK_EVENTS


@dataclass
class Plan:
    """What the fault knows of the load it runs beside."""

    seconds: float  # how long the load should take (events / rate)
    rng: random.Random = field(default_factory=lambda: random.Random(17))
    every_s: float = 0.0  # seconds before each fault (0: the faults spread over the load)
    down_s: float = 15.0  # broker: how long it stays down
    kills_per_service: int = 2
    broker_faults: tuple[str, ...] = ("stop", "kill")  # SIGTERM then start; kill -9 then start
    postgres_faults: tuple[str, ...] = ("fast", "immediate")
    leader_kills: int = 2  # cluster: how many times the partition leader is killed

    def pause(self, faults: int) -> float:
        return self.every_s or max(2.0, self.seconds / (faults + 1))


@dataclass
class Fault:
    what: str
    started: float
    ended: float
    back_after_s: float = 0.0  # until every service answered ready again


Injector = Callable[[DrillStack, Timeline, Plan], Awaitable[list[Fault]]]


async def kill(stack: DrillStack, timeline: Timeline, plan: Plan) -> list[Fault]:
    """kill -9 of a random service every few seconds, each at least twice, restarted at once by the drill
    (as a supervisor would). Killing assignment or progress under load kills its relay mid-batch."""
    victims = list(SERVICES) * plan.kills_per_service
    plan.rng.shuffle(victims)
    faults = []
    for name in victims:
        await asyncio.sleep(plan.pause(len(victims)))
        started = time.monotonic()
        stack.kill(name)
        timeline.note(f"kill -9 {name}")
        ready = await stack.restart(name)
        timeline.note(f"{name} started again, ready in {ready:.1f}s")
        faults.append(Fault(f"kill -9 {name}", started, started, time.monotonic() - started))
    return faults


async def broker(stack: DrillStack, timeline: Timeline, plan: Plan) -> list[Fault]:
    """The Kafka broker stopped (SIGTERM) and started again mid-load; later killed with -9 and started."""
    faults = []
    for hard in (mode == "kill" for mode in plan.broker_faults):
        await asyncio.sleep(plan.pause(len(plan.broker_faults)))
        started = time.monotonic()
        timeline.note("kill -9 Kafka" if hard else "stopping Kafka (SIGTERM)")
        await stack.kafka_stop(kill=hard)
        timeline.note(f"Kafka down; starting it again in {plan.down_s:.0f}s")
        await asyncio.sleep(plan.down_s)
        await stack.kafka_start()
        ended = time.monotonic()
        timeline.note(f"Kafka back after {ended - started:.1f}s")
        back = await _all_ready(stack, ended)
        timeline.note(f"every service ready again {back:.1f}s after Kafka came back")
        faults.append(Fault("Kafka kill -9" if hard else "Kafka stop/start", started, ended, back))
    return faults


async def postgres(stack: DrillStack, timeline: Timeline, plan: Plan) -> list[Fault]:
    """PostgreSQL restarted mid-load, in fast mode then in immediate mode (a crash, WAL replay), with the
    services running; afterwards every LISTEN connection must be back."""
    faults = []
    for immediate in (mode == "immediate" for mode in plan.postgres_faults):
        await asyncio.sleep(plan.pause(len(plan.postgres_faults)))
        mode = "immediate" if immediate else "fast"
        started = time.monotonic()
        timeline.note(f"restarting PostgreSQL ({mode} shutdown)")
        await stack.postgres_restart(immediate=immediate)
        ended = time.monotonic()
        timeline.note(f"PostgreSQL back after {ended - started:.1f}s")
        back = await _all_ready(stack, ended)
        listening = await _listeners_back(stack)
        timeline.note(f"every service ready again {back:.1f}s later; LISTEN connections: {', '.join(listening)}")
        faults.append(Fault(f"PostgreSQL {mode} restart", started, ended, back))
    return faults


async def soak(stack: DrillStack, timeline: Timeline, plan: Plan) -> list[Fault]:
    """No fault: the soak's load runs alone while the sampler watches memory, connections and lag."""
    return []


async def every_kind(stack: DrillStack, timeline: Timeline, plan: Plan) -> list[Fault]:
    """One after the other on one stack: the services killed, the broker, then PostgreSQL (CI's short drill)."""
    return [
        *await kill(stack, timeline, plan),
        *await broker(stack, timeline, plan),
        *await postgres(stack, timeline, plan),
    ]


async def cluster(stack: DrillStack, timeline: Timeline, plan: Plan) -> list[Fault]:
    """On a 3-broker cluster (replication 3, min.insync.replicas 2, producers acks=all): the leader of the
    task log's first partition killed with -9 mid-load, then started again once leadership moved."""
    from deploy import stack as deployed

    brokers = deployed.kafka_cluster()
    faults = []
    for _ in range(plan.leader_kills):
        await asyncio.sleep(plan.pause(plan.leader_kills))
        leader = await brokers.leader_of(TASK_EVENTS, 0)
        started = time.monotonic()
        timeline.note(f"kill -9 broker {leader}, leader of {TASK_EVENTS}[0]")
        await asyncio.to_thread(brokers.stop_broker, leader, signal.SIGKILL)
        await asyncio.sleep(plan.down_s)
        timeline.note(
            f"{TASK_EVENTS}[0] now led by broker {await brokers.leader_of(TASK_EVENTS, 0)}; starting {leader}"
        )
        await asyncio.to_thread(brokers.start_broker, leader)
        ended = time.monotonic()
        back = await _all_ready(stack, ended)
        in_sync = await brokers.in_sync_replicas(TASK_EVENTS, 0)
        timeline.note(f"broker {leader} back after {ended - started:.1f}s; in sync: {in_sync}")
        faults.append(Fault(f"kill -9 leader broker {leader}", started, ended, back))
    return faults


# The drills by name; a drill needing more than one broker says how many in BROKERS.
FAULTS: dict[str, Injector] = {
    "kill": kill,
    "broker": broker,
    "postgres": postgres,
    "cluster": cluster,
    "soak": soak,
    "every-kind": every_kind,
}
BROKERS = {"cluster": 3}

# The listening connections a restart must not leave dead (services/runtime/listening.py names them).
LISTENERS = ("dondoc-alerts-deliveries", "dondoc-alerts-stream")


async def _all_ready(stack: DrillStack, since: float, limit_s: float = 300) -> float:
    while problems := await stack.not_ready():
        if time.monotonic() - since > limit_s:
            raise TimeoutError(f"not ready {limit_s:.0f}s after the fault: {problems}")
        await asyncio.sleep(0.5)
    return time.monotonic() - since


async def _listeners_back(stack: DrillStack, limit_s: float = 60) -> list[str]:
    """The LISTEN connections present again after a restart; raises if one does not come back."""
    deadline = time.monotonic() + limit_s
    while True:
        conn = await asyncpg.connect(stack.database_url, timeout=5)
        try:
            names = {r["application_name"] for r in await conn.fetch("SELECT application_name FROM pg_stat_activity")}
        finally:
            await conn.close()
        if all(n in names for n in LISTENERS):
            return list(LISTENERS)
        if time.monotonic() > deadline:
            missing = [n for n in LISTENERS if n not in names]
            raise AssertionError(f"LISTEN connection(s) not back {limit_s:.0f}s after the restart: {missing}")
        await asyncio.sleep(0.5)
