"""The e-mail channel sends on threads of its own: a hanging SMTP server must not stall the process's
host-name lookups, which the webhook channel needs (a slow channel never delays another)."""

from __future__ import annotations

import asyncio
import uuid

from services.alerts.channels.email import EmailSender
from services.alerts.config import AlertsConfig


async def test_hanging_smtp_sends_leave_host_name_lookups_free() -> None:
    async def never_greets(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # smtplib waits for the banner until its timeout

    server = await asyncio.start_server(never_greets, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(AlertsConfig(smtp_host="127.0.0.1", smtp_port=port, delivery_timeout_s=5))
    row = {"target": "can-bo@example.vn", "body": {"subject": "Quá hạn", "text": "Nhiệm vụ đã quá hạn"}}
    # More sends than asyncio's default thread pool has threads on any machine (at most 32).
    sends = [asyncio.create_task(sender({**row, "delivery_id": uuid.uuid4()})) for _ in range(40)]
    try:
        await asyncio.sleep(0)  # let every send reach its thread
        # What httpx does before connecting to a webhook given by host name.
        addresses = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo("localhost", port), 2.0)
        assert addresses
    finally:
        sender.close()
        server.close()
        for send in sends:
            send.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
