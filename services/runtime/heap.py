"""The garbage collector and a long-running service's startup heap.

A started service holds some 120,000 objects that live as long as it does: modules, pydantic schemas,
FastAPI routes, the Kafka and PostgreSQL clients. CPython's full collection walks all of them each time;
while a backlog drains that happens every few runs, costs 200-300 ms on this machine and stops the event
loop for as long (alerts spent 11 % of its main thread in the collector, docs/performance.md round 5).
Frozen once started, they are left out of every collection; what the service allocates after is collected
as before."""

from __future__ import annotations

import gc

YOUNG = 10_000
"""Allocations between two collections of the youngest generation (CPython's default: 700)."""


def settle() -> int:
    """Collect what starting left behind, then freeze the rest (``gc.freeze``): later collections skip it.
    Returns how many objects are frozen. Once per process: a process that starts services again and again
    (the tests) freezes only the first time, so what a later start leaves behind is still collected (a
    frozen object's cycle is never freed)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        # A run of a drain keeps thousands of objects alive until it commits (its records, envelopes, rows):
        # collected every 700 allocations, they are walked again and again and pushed into the old generations
        # just before they die. Every YOUNG allocations, most of them are already gone by refcount.
        gc.set_threshold(YOUNG, *gc.get_threshold()[1:])
    return gc.get_freeze_count()
