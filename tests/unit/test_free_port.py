"""Local servers (the test session's broker and database, the benches') get ports below the kernel's
ephemeral range, where a reconnecting client can never be handed the port it dials (issue 17 item 6)."""

from __future__ import annotations

import socket

from deploy._proc import _ephemeral_range, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    low, _ = _ephemeral_range()
    for _ in range(50):
        port = free_port()
        assert 20_000 <= port < low
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
