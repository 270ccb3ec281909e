"""services/runtime/heap.py: a started service's heap is frozen once, and what it allocates after is still
collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from services.runtime import heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    if gc.get_freeze_count():
        pytest.skip("this process froze its heap already (a service started in it)")
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_settle_freezes_the_startup_heap_once(unfrozen: None) -> None:
    frozen = heap.settle()
    assert frozen > 1000
    assert gc.get_threshold()[0] == heap.YOUNG
    later = [Node() for _ in range(100)]  # alive at the second start, yet not frozen by it
    assert heap.settle() == frozen
    assert len(later) == 100


def test_cycles_made_after_settling_are_still_collected(unfrozen: None) -> None:
    heap.settle()
    node = Node()
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None
