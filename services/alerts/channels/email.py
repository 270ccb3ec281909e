"""The e-mail channel: plain-text UTF-8 over SMTP (aiosmtplib: asyncio, no threads).

The message is built with the legacy MIMEText/Header API on purpose: the modern EmailMessage header
folder drops spaces between RFC 2047 encoded words in Vietnamese subjects ("thanh toánhọc phí");
``Header`` encodes the whole subject so every space survives (tests/unit/test_alerts_rules.py).
"""

from __future__ import annotations

import asyncio
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formatdate

import aiosmtplib

from services.alerts.config import SEND_GRACE_S, AlertsConfig
from services.alerts.deliveries import Delivery


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
    """Sends on the event loop. The deadline bounds the whole exchange, not each step: a server answering
    every step slowly must not accept the mail long after the worker gave up (row retried or failed, mail
    delivered). No threads, so a hanging SMTP server holds no thread that host-name lookups (the
    webhooks') would wait for: a slow channel never delays another (deliveries.py)."""

    def __init__(self, config: AlertsConfig) -> None:
        assert config.smtp_host, "the e-mail channel needs DONDOC_ALERTS_SMTP_HOST"
        self._config = config

    # The worker's deadline (deliveries.py) waits this much longer than ours: the send reports what
    # really happened (its own timeout) instead of being cancelled from outside.
    grace_s = SEND_GRACE_S

    def close(self) -> None:
        """Nothing to release: each send opens and closes its own connection, and a send in flight is
        cancelled with its worker (its row is retried after the lease)."""

    async def __call__(self, row: Delivery) -> None:
        cfg, body = self._config, row.body
        msg = build_message(cfg.smtp_from, row.target, body["subject"], body["text"], str(row.delivery_id))
        assert cfg.smtp_host is not None
        smtp = aiosmtplib.SMTP(
            hostname=cfg.smtp_host,
            port=cfg.smtp_port,
            timeout=cfg.delivery_timeout_s,
            start_tls=cfg.smtp_starttls,  # never "if the server offers it": the operator says
        )
        try:
            async with asyncio.timeout(cfg.delivery_timeout_s):
                await smtp.connect()
                if cfg.smtp_username:
                    await smtp.login(cfg.smtp_username, cfg.smtp_password or "")
                await smtp.send_message(msg)
        finally:
            # No QUIT: the mail is accepted once send_message returned, and waiting for a slow server's
            # answer to QUIT could outlast the deadline and turn a delivered mail into a retried one.
            smtp.close()
