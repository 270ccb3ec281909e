"""The one retry policy (services/runtime/retry.py) and the leased work queue's claim (work_queue.py)."""

from __future__ import annotations

import pytest

from services.runtime.retry import RetryPolicy
from services.runtime.work_queue import QueueShape, WorkQueue


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    policy = RetryPolicy(2.0, 60.0)
    assert [policy.delay_s(n) for n in (0, 1, 2, 3, 6, 10, 10_000)] == [2.0, 2.0, 4.0, 8.0, 60.0, 60.0, 60.0]


def test_work_is_parked_only_once_its_attempts_are_spent() -> None:
    policy = RetryPolicy(1.0, 10.0, max_attempts=3)
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]
    assert not RetryPolicy(1.0, 10.0).exhausted(1_000_000)


@pytest.mark.parametrize("kwargs", [{"first_s": -1.0, "max_s": 1.0}, {"first_s": 1.0, "max_s": 1.0, "max_attempts": 0}])
def test_a_policy_that_could_not_be_meant_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_queue_that_counts_attempts_must_know_when_to_park() -> None:
    shape = QueueShape("q", "t", "id", "pending", "true", "id", "*", parked=None, counts_attempts=True)
    with pytest.raises(ValueError, match="retry policy and a parked status"):
        WorkQueue(shape, lease_s=1, batch_size=1, retry=RetryPolicy(1, 1, 1))


class _Recording:
    """A connection that records the statements it is given and finds no rows."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    async def fetch(self, sql: str, *args: object) -> list[object]:
        self.calls.append((sql, args))
        return []


async def test_a_scoped_claim_numbers_the_scope_before_the_due_arguments() -> None:
    shape = QueueShape("q", "jobs", "job_id", "pending", "due_at <= {0}", "due_at", "*", scope="lane")
    conn = _Recording()
    claim = await WorkQueue(shape, lease_s=30, batch_size=7, scope="fast").claim(conn, "2030-01-01")  # type: ignore[arg-type]
    [(sql, args)] = conn.calls
    assert "lane = $4" in sql and "due_at <= $5" in sql and "FOR UPDATE SKIP LOCKED" in sql
    assert "attempts" not in sql  # a queue that does not count attempts never touches the column
    assert args == (claim.token, 30, 7, "fast", "2030-01-01") and claim.rows == []
