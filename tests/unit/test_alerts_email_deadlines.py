"""The e-mail channel's deadline bounds the whole exchange, and a hanging SMTP server must not stall the
process's host-name lookups, which the webhook channel needs (a slow channel never delays another)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.alerts.channels.email import EmailSender
from services.alerts.config import AlertsConfig
from services.alerts.deliveries import Delivery


class FakeSmtp:
    """A minimal SMTP server whose pace the test sets: a delay before every answer, or none to QUIT."""

    def __init__(self, *, answer_after_s: float = 0.0, says_goodbye: bool = True) -> None:
        self.answer_after_s, self.says_goodbye = answer_after_s, says_goodbye
        self.accepted: list[bytes] = []
        self.session_over = asyncio.Event()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 cham.example ESMTP\r\n")
        try:
            while line := await reader.readline():
                await asyncio.sleep(self.answer_after_s)
                if line.upper().startswith(b"DATA"):
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    self.accepted.append(await reader.readuntil(b"\r\n.\r\n"))
                    writer.write(b"250 accepted\r\n")
                elif line.upper().startswith(b"QUIT"):
                    if not self.says_goodbye:
                        await asyncio.Event().wait()
                    writer.write(b"221 bye\r\n")
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.session_over.set()


def _row() -> Delivery:
    body = {"subject": "Quá hạn", "text": "Nhiệm vụ đã quá hạn"}
    return Delivery(uuid.uuid4(), "email", "alert", "can-bo-1", "can-bo@example.vn", body, attempts=1)


async def test_hanging_smtp_sends_leave_host_name_lookups_free() -> None:
    async def never_greets(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # the client waits for the banner until its timeout

    server = await asyncio.start_server(never_greets, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(AlertsConfig(smtp_host="127.0.0.1", smtp_port=port, delivery_timeout_s=5))
    # More sends than asyncio's default thread pool has threads on any machine (at most 32).
    sends = [asyncio.create_task(sender(_row())) for _ in range(40)]
    try:
        await asyncio.sleep(0)  # let every send start waiting for its banner
        # What httpx does before connecting to a webhook given by host name.
        addresses = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo("localhost", port), 2.0)
        assert addresses
    finally:
        sender.close()
        server.close()
        for send in sends:
            send.cancel()
        await asyncio.gather(*sends, return_exceptions=True)


async def test_a_server_answering_every_step_slowly_is_cut_at_the_deadline_not_after_it() -> None:
    """Each step within the client's per-step timeout, the whole exchange far beyond the deadline: the send
    fails at the deadline, before the server accepts the mail, so the row's 'failed, retry' is the truth."""
    smtp = FakeSmtp(answer_after_s=0.4)  # each answer is slow, none is late
    server = await asyncio.start_server(smtp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(AlertsConfig(smtp_host="127.0.0.1", smtp_port=port, delivery_timeout_s=1.0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(OSError):  # SMTPServerDisconnected and friends
            await asyncio.wait_for(sender(_row()), 1.0 + sender.grace_s)
        assert loop.time() - started < 1.0 + sender.grace_s  # the sender's own deadline, not the worker's
        await asyncio.wait_for(smtp.session_over.wait(), 5)  # the server saw the connection end…
        assert smtp.accepted == []  # …without ever having been given the mail
    finally:
        sender.close()
        server.close()


async def test_a_mail_accepted_is_delivered_even_if_the_server_is_slow_to_say_goodbye() -> None:
    """Waiting for QUIT's answer could outlast the deadline and turn a delivered mail into a retried one."""
    smtp = FakeSmtp(says_goodbye=False)
    server = await asyncio.start_server(smtp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(AlertsConfig(smtp_host="127.0.0.1", smtp_port=port, delivery_timeout_s=1.0))
    try:
        await asyncio.wait_for(sender(_row()), 1.0)  # returns once accepted
        assert len(smtp.accepted) == 1
    finally:
        sender.close()
        server.close()


def test_a_lease_no_longer_than_a_send_is_refused_with_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"DELIVERY_LEASE_S \(12\) must be longer than .*TIMEOUT_S \(10\) \+ 2 s"):
        AlertsConfig(delivery_lease_s=12, delivery_timeout_s=10)
    assert AlertsConfig(delivery_lease_s=12.5, delivery_timeout_s=10).delivery_lease_s == 12.5
