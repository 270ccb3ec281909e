"""The e-mail channel: plain-text UTF-8 over SMTP (stdlib smtplib, run in a thread).

The message is built with the legacy MIMEText/Header API on purpose: the modern EmailMessage header
folder drops spaces between RFC 2047 encoded words in Vietnamese subjects ("thanh toánhọc phí");
``Header`` encodes the whole subject so every space survives (tests/unit/test_alerts_rules.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Any

from services.alerts.config import SEND_GRACE_S, AlertsConfig


def build_message(sender: str, to: str, subject: str, text: str, delivery_id: str) -> Message:
    msg = MIMEText(text, "plain", "utf-8")
    msg["From"] = sender
    msg["To"] = to
    # compat32 messages take a Header (typeshed only knows str); encoding it ourselves adds a leading space.
    msg["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
    msg["Date"] = formatdate(localtime=False)
    # Deterministic: a re-sent delivery (crash after the send) is recognisable by mail clients.
    msg["Message-ID"] = f"<{delivery_id}@dondoc>"
    return msg


class EmailSender:
    """Sends on threads of its own. Not asyncio.to_thread: that pool (a handful of threads on a small
    machine) also resolves every host name of the process, so a hanging SMTP server would stall the
    webhooks' DNS lookups, and a slow channel must never delay another (deliveries.py)."""

    def __init__(self, config: AlertsConfig) -> None:
        assert config.smtp_host, "the e-mail channel needs DONDOC_ALERTS_SMTP_HOST"
        self._config = config
        self._threads = ThreadPoolExecutor(max_workers=config.delivery_batch_size, thread_name_prefix="dondoc-smtp")

    async def __call__(self, row: dict[str, Any]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._threads, self._send, row)

    def close(self) -> None:
        """Stop taking sends; one in flight ends by its own timeout (its row is retried if it was cut)."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    # The worker's deadline (deliveries.py) waits this much longer than ours: the thread reports what
    # really happened instead of being abandoned while it may still deliver.
    grace_s = SEND_GRACE_S

    def _send(self, row: dict[str, Any]) -> None:
        cfg, body = self._config, row["body"]
        msg = build_message(cfg.smtp_from, row["target"], body["subject"], body["text"], str(row["delivery_id"]))
        assert cfg.smtp_host is not None
        # smtplib's timeout bounds each step, not the exchange: a server answering every step slowly could
        # accept the mail long after the worker gave up (row retried or failed, mail delivered). A timer
        # shuts the socket down at the deadline, which makes the blocked step fail at once.
        smtp = smtplib.SMTP(timeout=cfg.delivery_timeout_s)
        deadline = threading.Timer(cfg.delivery_timeout_s, _shut_down, (smtp,))
        deadline.start()
        try:
            smtp.connect(cfg.smtp_host, cfg.smtp_port)
            if deadline.finished.is_set():  # it fired before the socket existed (slow DNS, a dead address)
                raise TimeoutError(f"connecting to {cfg.smtp_host} took longer than {cfg.delivery_timeout_s} s")
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_username:
                smtp.login(cfg.smtp_username, cfg.smtp_password or "")
            smtp.send_message(msg)
        finally:
            deadline.cancel()
            # No QUIT: the mail is accepted once send_message returned, and waiting for a slow server's
            # answer to QUIT could outlast the deadline and turn a delivered mail into a retried one.
            smtp.close()


def _shut_down(smtp: smtplib.SMTP) -> None:
    """Closing a socket another thread is blocked on does not wake it on Linux; shutting it down does."""
    sock = smtp.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
