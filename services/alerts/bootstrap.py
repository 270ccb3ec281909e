"""The alerts service: tells people, not agencies, before and after a deadline. The composition root."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from events.topics import DIRECTORY, TASK_EVENTS
from services.alerts import admin_routes, deadline_lane, handlers, timer_handlers
from services.alerts.channels.email import EmailSender
from services.alerts.channels.targets import TargetPolicy
from services.alerts.channels.webhook import WebhookSender
from services.alerts.config import AlertsConfig
from services.alerts.deliveries import NOTIFY_CHANNEL, DeliveryWorker, Sender
from services.alerts.routes import build_router
from services.alerts.stream import StreamHub
from services.runtime.listening import Listener
from services.runtime.service import BackgroundTask, Runtime, ServiceDefinition
from services.runtime.timers import TimerWorker
from services.runtime.unit_of_work import UnitOfWork


def _background(config: AlertsConfig, hub: StreamHub) -> tuple[BackgroundTask, ...]:
    async def alert_timers(rt: Runtime) -> None:
        async with rt.unit_of_work() as uow:
            await timer_handlers.plan_first_digest(uow, config)
        await TimerWorker(
            rt.pool,
            rt.clock,
            timer_handlers.handlers(config),
            service=rt.service,
            schema=rt.definition.schema,
            poll_interval_s=rt.settings.timer_poll_interval_s,
            lease_s=rt.settings.timer_lease_s,
            # Each handler locks its people (inapp.lock_people): fired together, one transaction would lock
            # several timers' people in no set order, and deadlock with the consumer's lanes.
            fire_together=False,
        ).run()

    async def alert_deliveries(rt: Runtime) -> None:
        async with httpx.AsyncClient(timeout=config.delivery_timeout_s) as client:
            senders: dict[str, Sender] = {
                "webhook": WebhookSender(rt.pool, client, TargetPolicy(config.webhook_allowed_networks))
            }
            email = EmailSender(config) if config.smtp_host else None
            if email is not None:
                senders["email"] = email
            workers = {
                channel: DeliveryWorker(
                    rt.pool,
                    channel,
                    send,
                    config,
                    lambda conn: UnitOfWork(conn, rt.service, rt.definition.schema, rt.clock),
                )
                for channel, send in senders.items()
            }

            def wake(_conn: object, _pid: int, _channel: str, channel: str) -> None:
                if channel in workers:
                    workers[channel].wake()

            def wake_all() -> None:  # after a reconnect: deliveries queued while nobody listened
                for worker in workers.values():
                    worker.wake()

            # Reconnects after a PostgreSQL restart; this connection used to be lost for good.
            listener = Listener(
                rt.settings.database_url, {NOTIFY_CHANNEL: wake}, name="alerts-deliveries", on_connect=wake_all
            )
            listening = asyncio.create_task(listener.run(), name="alerts-deliveries-listener")
            try:
                await asyncio.gather(*(w.run() for w in workers.values()))
            finally:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
                if email is not None:
                    email.close()

    async def alert_streams(rt: Runtime) -> None:
        await hub.listen(rt.settings.database_url, {"application_name": "dondoc-alerts-stream"})

    return alert_timers, alert_deliveries, alert_streams, deadline_lane.run


def definition(config: AlertsConfig | None = None) -> ServiceDefinition:
    config = config or AlertsConfig()
    hub = StreamHub()
    return ServiceDefinition(
        name="alerts",
        title="dondoc — cảnh báo (alerts)",
        migrations=Path(__file__).parent / "migrations",
        topics=(TASK_EVENTS, DIRECTORY),
        handlers=handlers.handlers(config),
        routers=(build_router(config, hub), admin_routes.build_router()),
        background=_background(config, hub),
        # The deadline burst path: many tasks' events at once, each task's in order (runtime/consuming.py).
        consumer_concurrency=8,
        batch_handler=handlers.batch_handler(config),
        replay_refusal="alerts is a source of truth, not a projection: alerts are raised by its own timers on the "
        "clock, acknowledged over HTTP and delivered to people (email, webhook); none of that is in its input "
        "topics, and a replay would raise alerts again on today's clock. Restore its schema from a database backup "
        "instead (what it published is kept on dondoc.alert-events and in audit).",
    )


DEFINITION = definition()
