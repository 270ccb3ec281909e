"""A Kafka producer its owner replaces after an error no idempotent producer recovers from.

After Kafka error 45 ``OutOfOrderSequenceNumber`` (a broker outage mid-batch), an unknown or fenced producer
id, or a dead sender task, every later send of that producer fails the same way: aiokafka does not reset
its sequence or identity. Retrying with it wedges whoever waits on it (the outbox relay, once; a consumer
that must dead-letter a record before committing past it). Such an owner holds a ``RenewableProducer``:
on such an error it closes the producer (bounded) and the next ``get`` makes a fresh idempotent one from
its factory (a new producer id, sequences from 0). A broker that is merely away is not such an error:
the owner retries with the same producer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from prometheus_client import Counter

from services.runtime.logs import get_logger

log = get_logger(__name__)

_CLOSE_OLD_PRODUCER_S = 5.0  # a broken producer's stop() may wait on deliveries that never come

PRODUCER_RENEWALS = Counter(
    "dondoc_producer_renewals_total",
    "Producers replaced after an error they cannot recover from (the outbox relay's, the dead letters')",
    ["producer"],
)

# Makes and starts a fresh idempotent producer (service.py builds it from the settings).
ProducerFactory = Callable[[], Awaitable[AIOKafkaProducer]]

# Errors after which an idempotent producer's sequence or identity is wrong for good: every later send
# fails alike, so only a fresh producer continues.
FATAL = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, InvalidProducerIdMapping, ProducerFenced)


class ProducerBroken(Exception):
    """The producer can send nothing more (a fatal idempotence error, its sender gone): replace it."""


def broken(exc: BaseException) -> bool:
    """Whether ``exc`` says the producer that raised it can never send again."""
    return isinstance(exc, (ProducerBroken, *FATAL))


class RenewableProducer:
    """Made by ``factory``, this owns its producers: made on first ``get``, replaced by ``renew``, stopped by
    ``close``. ``fixed``: a started producer the caller owns, which can only be retried with. ``name``
    labels logs and ``dondoc_producer_renewals_total``."""

    def __init__(self, factory: ProducerFactory | None, name: str, producer: AIOKafkaProducer | None = None) -> None:
        self.name = name
        self._factory = factory
        self._producer = producer
        self.renewals = 0  # producers replaced, for tests and the drills

    @classmethod
    def fixed(cls, producer: AIOKafkaProducer, name: str) -> RenewableProducer:
        return cls(None, name, producer)

    async def get(self) -> AIOKafkaProducer:
        """The producer to send with: made now if there is none (the broker away: raises, the caller backs
        off); raises ProducerBroken if its sender task has ended."""
        if self._producer is None:
            assert self._factory is not None
            self._producer = await self._factory()
        elif _sender_dead(self._producer):
            raise ProducerBroken("the producer's sender task has ended")
        return self._producer

    async def renew(self, why: BaseException) -> bool:
        """Drop the broken producer; the next ``get`` makes a fresh one. False (and the producer kept) when it is
        the caller's and cannot be replaced."""
        if self._factory is None:
            log.error("producer broken and cannot be replaced", producer=self.name, error=str(why))
            return False
        old, self._producer = self._producer, None
        if old is not None:
            await _close(old)
        self.renewals += 1
        PRODUCER_RENEWALS.labels(self.name).inc()
        log.warning("producer replaced after a fatal error", producer=self.name, error=f"{type(why).__name__}: {why}")
        return True

    async def close(self) -> None:
        """Stop the producer this made, if any (the caller's is the caller's to stop)."""
        if self._factory is not None and self._producer is not None:
            await _close(self._producer)
            self._producer = None


def _sender_dead(producer: AIOKafkaProducer) -> bool:
    """aiokafka's sender task ends on a fatal error and then no delivery future is ever answered."""
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    return task is not None and task.done()


async def _close(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), _CLOSE_OLD_PRODUCER_S)
    except Exception as exc:  # broken or the broker away: what it held is sent again by the next one
        log.warning("could not close a producer cleanly", error=repr(exc))
