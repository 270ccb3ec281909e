"""The one retry policy: exponential backoff, capped, with an optional limit of attempts.

Used by the leased work queue (work_queue.py: timers, alert deliveries and so the channels), the outbox
relay and the consumer's infrastructure retries, so "how long until we try again" is decided in one place.

Not tenacity: most retries here outlive the process — a delivery's next try is a ``next_attempt_at`` on
the database clock, not a sleep — so what is needed is the delay for attempt *n*, not a decorator that
loops. The in-process loops (consumer, relay) also tell infrastructure failures from handler failures,
with separate counts, which a single ``Retrying`` would blur.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``delay_s(n)`` is the wait after the n-th failure (1-based): ``first_s``, then doubling, at most ``max_s``.

    ``max_attempts`` (None: unlimited) is how many tries a piece of work gets before it is parked for a
    person to look at (a failed delivery, a dead-lettered event)."""

    first_s: float
    max_s: float
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.first_s < 0 or self.max_s < 0:
            raise ValueError("retry delays cannot be negative")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("a retry policy allows at least one attempt")

    def delay_s(self, failures: int) -> float:
        """Delay before the next try after ``failures`` failures (0 or 1: the first delay)."""
        exponent = min(max(failures - 1, 0), 63)  # 2**63 times any delay is past every cap
        return float(min(self.first_s * 2**exponent, self.max_s))

    def exhausted(self, attempts: int) -> bool:
        """True once ``attempts`` tries have been made and no more are allowed."""
        return self.max_attempts is not None and attempts >= self.max_attempts
