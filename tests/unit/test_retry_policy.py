"""The one retry policy (services/runtime/retry.py): the delays every queue and loop waits between tries."""

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
