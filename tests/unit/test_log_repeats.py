"""A library repeating one message (aiokafka while the broker is away) cannot flood the logs."""

from __future__ import annotations

import io
import logging

from services.runtime.logs import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _logger(clock: Clock) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RepeatFilter(window_s=60, clock=clock))
    logger = logging.getLogger(f"aiokafka.test.{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger, out


def test_a_flood_of_alike_messages_is_one_line_per_window_with_the_count_held_back() -> None:
    clock = Clock()
    logger, out = _logger(clock)
    for i in range(10_000):
        clock.now = i * 0.001  # ten seconds of reconnect attempts
        logger.error("Unable connect to node with id %s: %s", i % 3, "Connect call failed")
    assert out.getvalue().count("\n") == 1
    clock.now = 61
    logger.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "and 9999 alike in the last 60s, not shown" in lines[1]


def test_different_messages_are_not_held_back_by_each_other() -> None:
    clock = Clock()
    logger, out = _logger(clock)
    logger.error("Unable connect to node with id %s", 1)
    logger.warning("Unable to update metadata from %s", 1)
    logger.error("Something else entirely")
    assert out.getvalue().count("\n") == 3
