"""The local stack's process manager: a service that dies is started again, with backoff, and said so;
the stack gives up only when one keeps dying (issue 17 item 4: a `kill -9` of reporting used to stop
every service, Kafka and PostgreSQL). Production restarts come from the orchestrator instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Process(Protocol):
    def poll(self) -> int | None: ...


@dataclass(frozen=True)
class RestartPolicy:
    # Restarts wait 1, 2, 4… seconds (at most the last), so a service failing at start cannot spin.
    backoff_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
    # So many deaths within the window and the stack stops, saying which service and where its log is.
    give_up_after: int = 5
    window_s: float = 300.0


class GaveUp(RuntimeError):
    """A service died ``give_up_after`` times within the window."""


@dataclass
class Supervisor:
    procs: dict[str, Process]
    start: Callable[[str], Process]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    deaths: dict[str, list[float]] = field(default_factory=dict)
    restart_at: dict[str, float] = field(default_factory=dict)

    def tick(self) -> list[str]:
        """Notice deaths, start again what is due; returns what to tell the operator. Raises GaveUp."""
        now, said = self.clock(), []
        for name, proc in self.procs.items():
            if name in self.restart_at or (code := proc.poll()) is None:
                continue
            recent = [t for t in self.deaths.get(name, []) if now - t < self.policy.window_s] + [now]
            self.deaths[name] = recent
            if len(recent) >= self.policy.give_up_after:
                raise GaveUp(
                    f"{name} stopped {len(recent)} times in {self.policy.window_s:.0f}s (last exit code {code})"
                )
            delay = self.policy.backoff_s[min(len(recent) - 1, len(self.policy.backoff_s) - 1)]
            self.restart_at[name] = now + delay
            said.append(f"{name} stopped (exit code {code}); starting it again in {delay:.0f}s")
        for name, due in list(self.restart_at.items()):
            if now >= due:
                del self.restart_at[name]
                self.procs[name] = self.start(name)
                said.append(f"{name} started again")
        return said
