"""Many tasks' questions of one kind, gathered for a moment and answered together (one statement for all).

When one commit wakes a hundred SSE streams, each asks the same kind of question at once (its entries
after its cursor; whether its token and person still stand). Asked one by one, that is a round trip per
stream on a pool shared with the consumer. ``Gathered.ask`` holds a question for ``window_s`` (the woken
tasks all reach their ask within a few loop iterations), then one ``answer`` call gets every question
asked meanwhile and returns the answers in the same order.

* Each asker has its own future: one asker cancelled (a client gone) takes nobody else's answer away.
* An answer that fails fails every question it was asked for, as each asker's own call would have.
* Nothing is cached: an answer is read after the question was asked, so it is never older than a
  question asked alone would have got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Q = TypeVar("Q")
A = TypeVar("A")

WINDOW_S = 0.002
"""Long enough for the tasks one wake-up readied to reach their ask; short next to any round trip."""
MAX_QUESTIONS = 500
"""Questions per ``answer`` call: one statement's arrays stay small; more go in further calls, side by side."""


class Gathered(Generic[Q, A]):
    def __init__(
        self,
        answer: Callable[[Sequence[Q]], Awaitable[Sequence[A]]],
        window_s: float = WINDOW_S,
        max_questions: int = MAX_QUESTIONS,
    ) -> None:
        self._answer, self._window_s, self._max = answer, window_s, max_questions
        self._waiting: list[tuple[Q, asyncio.Future[A]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._answering: set[asyncio.Task[None]] = set()  # held, so a running answer is not collected

    async def ask(self, question: Q) -> A:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[A] = loop.create_future()
        self._waiting.append((question, waiter))
        if self._timer is None:
            self._timer = loop.call_later(self._window_s, self._dispatch)
        return await waiter

    def _dispatch(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self._max):
            task = asyncio.create_task(self._answer_all(waiting[start : start + self._max]))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _answer_all(self, waiting: list[tuple[Q, asyncio.Future[A]]]) -> None:
        waiting = [(q, w) for q, w in waiting if not w.done()]  # those cancelled meanwhile need no answer
        if not waiting:
            return
        try:
            answers = await self._answer([q for q, _ in waiting])
            if len(answers) != len(waiting):
                raise RuntimeError(f"{len(answers)} answers to {len(waiting)} questions")
        except BaseException as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)  # the service stopping: so do the askers
            for _, waiter in waiting:
                if waiter.done():
                    continue
                if cancelled:
                    waiter.cancel()
                else:
                    waiter.set_exception(exc)
            if cancelled:
                raise
            return
        for (_, waiter), answer in zip(waiting, answers, strict=True):
            if not waiter.done():
                waiter.set_result(answer)
