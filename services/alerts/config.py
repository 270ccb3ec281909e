"""Settings of the alerts service, from ``DONDOC_ALERTS_*`` environment variables."""

from __future__ import annotations

from datetime import time

from pydantic import Field, IPvAnyNetwork, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SEND_GRACE_S = 2.0
"""How much longer than ``delivery_timeout_s`` a worker waits for a sender that keeps its own deadline."""


class AlertsConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONDOC_ALERTS_", extra="ignore", frozen=True)

    # Rules (domain time: the injectable clock).
    overdue_repeat_s: float = Field(86400.0, gt=0, description="Overdue reminders repeat this often until ack")
    escalation_delay_s: float = Field(2 * 86400.0, ge=0, description="Overdue this long: escalate")
    digest_at: time = Field(time(7, 30), description="When each person's daily digest is sent (Asia/Ho_Chi_Minh)")

    # Delivery (real time, on the database clock).
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_backoff_s: float = Field(2.0, gt=0, description="First retry delay; doubles each attempt")
    delivery_backoff_max_s: float = Field(600.0, gt=0)
    delivery_timeout_s: float = Field(10.0, gt=0, description="One send on one channel")
    delivery_poll_interval_s: float = Field(1.0, gt=0, description="Fallback poll; NOTIFY wakes the workers")
    delivery_lease_s: float = Field(60.0, gt=0)
    delivery_batch_size: int = Field(50, ge=1)

    # E-mail over SMTP; no host, no e-mail channel.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "dondoc@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    # Webhook targets (channels/targets.py): public https hosts only, unless in these networks (on-premise
    # agency systems), where http is accepted too. JSON in the environment: '["10.20.0.0/16"]'.
    webhook_allowed_networks: tuple[IPvAnyNetwork, ...] = ()

    # SSE: a comment line this often keeps proxies from closing an idle stream.
    stream_keepalive_s: float = Field(15.0, gt=0)
    # Each open stream holds a task and a re-check every second: one token may not hold more (429 beyond).
    max_streams_per_token: int = Field(5, ge=1, le=1000)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> AlertsConfig:
        # A lease shorter than a send lets another worker (or the crash-loop rule) take the row while the
        # first is still sending: a double send, or a delivered mail recorded as failed.
        if self.delivery_lease_s <= self.delivery_timeout_s + SEND_GRACE_S:
            raise ValueError(
                f"DONDOC_ALERTS_DELIVERY_LEASE_S ({self.delivery_lease_s:g}) must be longer than "
                f"DONDOC_ALERTS_DELIVERY_TIMEOUT_S ({self.delivery_timeout_s:g}) + {SEND_GRACE_S:g} s"
            )
        return self
