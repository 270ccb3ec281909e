"""services/runtime/heap.py: a started service's heap is frozen once, and what it allocates after is still
collected. Each check runs in a fresh interpreter: in the suite's own process a service started earlier has
frozen the heap already, and the checks would prove nothing there."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def in_a_fresh_interpreter(code: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr


PRELUDE = """
import gc, weakref
from services.runtime import heap

class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it

assert gc.get_freeze_count() == 0
"""


def test_settle_freezes_the_startup_heap_once() -> None:
    in_a_fresh_interpreter(
        PRELUDE
        + """
frozen = heap.settle()
assert frozen > 1000, frozen
assert gc.get_threshold()[0] == heap.YOUNG
later = [Node() for _ in range(100)]  # alive at the second start, yet not frozen by it
assert heap.settle() == frozen
"""
    )


def test_cycles_made_after_settling_are_still_collected() -> None:
    in_a_fresh_interpreter(
        PRELUDE
        + """
heap.settle()
node = Node()
gone = weakref.ref(node)
del node
gc.collect()
assert gone() is None
"""
    )
