"""The raw-record consumer's retry policy (services/runtime/raw_consumer.py), with fakes: no broker."""

from __future__ import annotations

import pytest

from services.runtime.raw_consumer import RawConsumer, RawRecord, _with_retries

RECORD = RawRecord("dondoc.intake", 0, 1, b"k", b"{}", (("dondoc-agency", b"bd-stc"),))


class Script:
    """A handler that fails with the scripted exceptions, then succeeds."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures, self.calls = list(failures), 0
        self.given_up: list[tuple[str, int]] = []

    async def handle(self, record: RawRecord) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "handled"

    async def give_up(self, record: RawRecord, error: str, attempts: int) -> None:
        self.given_up.append((error, attempts))

    def consumer(self) -> RawConsumer:
        return RawConsumer(self.handle, self.give_up)


async def test_a_failing_record_is_retried_a_bounded_number_of_times_then_given_up() -> None:
    script = Script(*(ValueError("bug") for _ in range(5)))
    await _with_retries(RECORD, script.consumer(), attempts=3, backoff_s=0)
    assert script.calls == 3 and script.given_up == [("ValueError: bug", 3)]


async def test_an_unreachable_database_is_retried_without_giving_up() -> None:
    script = Script(OSError("connection refused"), OSError("connection refused"), OSError("again"))
    await _with_retries(RECORD, script.consumer(), attempts=1, backoff_s=0)
    assert script.calls == 4 and script.given_up == []


async def test_a_failure_that_heals_within_the_attempts_is_not_given_up() -> None:
    script = Script(ValueError("once"))
    await _with_retries(RECORD, script.consumer(), attempts=3, backoff_s=0)
    assert script.calls == 2 and script.given_up == []


@pytest.mark.parametrize("name", ["dondoc-agency", "DONDOC-AGENCY"])
def test_headers_are_read_by_name_whatever_their_case(name: str) -> None:
    assert RawRecord("t", 0, 0, None, None, ((name, b"bd-stc"),)).header("dondoc-agency") == "bd-stc"
