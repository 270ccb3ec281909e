"""dondoc up as a process manager: a dead service is started again with backoff and said so, and the
stack gives up only when one keeps dying (issue 17 item 4)."""

from __future__ import annotations

import pytest

from services.cli.supervisor import GaveUp, RestartPolicy, Supervisor


class Proc:
    def __init__(self) -> None:
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def supervisor(clock: Clock) -> tuple[Supervisor, list[str]]:
    started: list[str] = []

    def start(name: str) -> Proc:
        started.append(name)
        return Proc()

    procs = {"reporting": Proc(), "alerts": Proc()}
    return Supervisor(procs, start, RestartPolicy(backoff_s=(1, 2, 4), give_up_after=3, window_s=60), clock), started


def test_a_killed_service_is_started_again_after_its_backoff_and_the_others_are_left_alone() -> None:
    clock = Clock()
    sup, started = supervisor(clock)
    sup.procs["reporting"].code = -9  # type: ignore[attr-defined]
    assert sup.tick() == ["reporting stopped (exit code -9); starting it again in 1s"]
    clock.now = 0.5
    assert sup.tick() == [] and started == []  # not before its backoff
    clock.now = 1.0
    assert sup.tick() == ["reporting started again"]
    assert started == ["reporting"] and sup.procs["reporting"].poll() is None


def test_the_backoff_grows_with_each_death_and_the_stack_gives_up_when_one_keeps_dying() -> None:
    clock = Clock()
    sup, started = supervisor(clock)
    delays = []
    for _ in range(2):
        sup.procs["alerts"].code = 1  # type: ignore[attr-defined]
        said = sup.tick()
        delays.append(said[0].rsplit(" ", 1)[1])
        clock.now = sup.restart_at["alerts"]
        sup.tick()
    assert delays == ["1s", "2s"] and started == ["alerts", "alerts"]
    sup.procs["alerts"].code = 1  # type: ignore[attr-defined]
    with pytest.raises(GaveUp, match="alerts stopped 3 times"):
        sup.tick()


def test_deaths_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    sup, _ = supervisor(clock)
    for _ in range(5):  # one death a minute and more: never three within the window
        sup.procs["alerts"].code = 1  # type: ignore[attr-defined]
        sup.tick()
        clock.now = sup.restart_at["alerts"]
        sup.tick()
        clock.now += 61
    assert len(sup.deaths["alerts"]) == 1
