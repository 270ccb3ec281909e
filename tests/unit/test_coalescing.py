"""Questions gathered and answered together (services/runtime/coalescing.py): each asker gets its own
answer, a failure reaches every asker of that answer, and one asker cancelled takes nothing from the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.runtime.coalescing import Gathered
from tests.conftest import eventually


async def test_questions_asked_together_are_answered_in_one_call_each_with_its_own_answer() -> None:
    calls: list[list[int]] = []

    async def square(questions: Sequence[int]) -> list[int]:
        calls.append(list(questions))
        return [q * q for q in questions]

    gathered: Gathered[int, int] = Gathered(square)
    assert await asyncio.gather(*(gathered.ask(q) for q in (3, 1, 2, 3))) == [9, 1, 4, 9]
    assert calls == [[3, 1, 2, 3]]
    assert await gathered.ask(5) == 25 and calls[-1] == [5]  # asked later: answered afresh, nothing kept


async def test_more_questions_than_one_call_takes_go_in_several_calls() -> None:
    calls: list[int] = []

    async def echo(questions: Sequence[int]) -> list[int]:
        calls.append(len(questions))
        return list(questions)

    gathered: Gathered[int, int] = Gathered(echo, max_questions=4)
    assert await asyncio.gather(*(gathered.ask(q) for q in range(10))) == list(range(10))
    assert sorted(calls) == [2, 4, 4]


async def test_a_failed_answer_fails_every_question_it_was_asked_for() -> None:
    async def broken(questions: Sequence[int]) -> list[int]:
        raise OSError("the database went away")

    gathered: Gathered[int, int] = Gathered(broken)
    results = await asyncio.gather(gathered.ask(1), gathered.ask(2), return_exceptions=True)
    assert [type(r) for r in results] == [OSError, OSError]


async def test_a_short_answer_is_an_error_not_a_silent_none() -> None:
    async def short(questions: Sequence[int]) -> list[int]:
        return list(questions)[:1]

    gathered: Gathered[int, int] = Gathered(short)
    with pytest.raises(RuntimeError, match="1 answers to 2 questions"):
        await asyncio.gather(gathered.ask(1), gathered.ask(2))


async def test_one_asker_cancelled_takes_no_answer_from_the_others() -> None:
    release = asyncio.Event()
    asked: list[list[int]] = []

    async def slow(questions: Sequence[int]) -> list[int]:
        asked.append(list(questions))
        await release.wait()
        return [q + 100 for q in questions]

    gathered: Gathered[int, int] = Gathered(slow)
    gone = asyncio.create_task(gathered.ask(1))
    stays = asyncio.create_task(gathered.ask(2))

    async def answering() -> bool:
        return bool(asked)

    await eventually(answering, what="the answer to begin")
    gone.cancel()
    release.set()
    assert await stays == 102
    with pytest.raises(asyncio.CancelledError):
        await gone
