"""The dashboard's relay of the alerts stream passes whole SSE frames only (services/reporting/dashboard.py):
an upstream cut mid-message never puts half a message on the viewer's stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from services.reporting.dashboard import _frames


async def _relayed(*chunks: bytes) -> list[bytes]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return [frame async for frame in _frames(httpx.Response(200, content=body()))]


async def test_frames_split_across_chunks_are_passed_whole_and_in_order() -> None:
    relayed = await _relayed(b"retry: 2000\n\nid: 7\nevent: al", b'ert\ndata: {"a": 1}\n', b"\n: keep-alive\n\n")
    assert relayed == [b"retry: 2000\n\n", b'id: 7\nevent: alert\ndata: {"a": 1}\n\n', b": keep-alive\n\n"]


async def test_a_frame_cut_before_its_end_is_not_passed_on() -> None:
    relayed = await _relayed(b"id: 7\nevent: alert\ndata: {}\n\n", b'id: 8\nevent: alert\ndata: {"half')
    assert relayed == [b"id: 7\nevent: alert\ndata: {}\n\n"]


async def test_carriage_return_line_ends_are_read_as_line_ends() -> None:
    assert await _relayed(b"id: 9\r\ndata: x\r\n\r\n") == [b"id: 9\ndata: x\n\n"]
