"""``dondoc bench codec``: what decoding and encoding one event costs, over the mix ``dondoc bench ingest``
publishes (``bench.mix``).

No broker, no database: the envelopes are encoded into records (``events.codec.to_record``, what the outbox
stores) and the records' values decoded back (``events.codec.decode``, what every consumer and the replay
do first), each pass timed on this process's CPU clock; the best of ``repeats`` passes is kept, so another
process taking the CPU for a moment does not count. The same values through plain ``json.loads`` and
``json.dumps`` are timed alongside: the codec's rate over that one is a ratio another machine or another
load can be compared by. The span id every emitted event draws (``tracing.child_of``) is timed too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.mix import backlog
from events.codec import decode, to_record
from services.runtime import tracing

T = TypeVar("T")


@dataclass(frozen=True)
class CodecRun:
    events: int
    decode_per_s: float
    encode_per_s: float
    json_loads_per_s: float
    json_dumps_per_s: float
    span_ids_per_s: float
    mix: dict[str, int]

    @property
    def decode_ratio(self) -> float:
        """Decoding's rate over plain ``json.loads``' (both on this machine, in this run)."""
        return self.decode_per_s / self.json_loads_per_s

    @property
    def encode_ratio(self) -> float:
        return self.encode_per_s / self.json_dumps_per_s


def _best_rate(items: Sequence[T], each: Callable[[T], object], repeats: int) -> float:
    """Items per CPU second of the fastest of ``repeats`` passes over ``items``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for item in items:
            each(item)
        best = min(best, time.process_time() - started)
    return len(items) / best if best > 0 else float("inf")


def run(events: int, repeats: int = 5) -> CodecRun:
    envelopes = backlog(events)
    trace = tracing.child_of(None)
    values = [to_record(e, None, trace).value for e in envelopes]
    plain = [json.loads(v) for v in values]
    mix: dict[str, int] = {}
    for envelope in envelopes:
        mix[envelope.event_type] = mix.get(envelope.event_type, 0) + 1
    return CodecRun(
        events=len(envelopes),
        decode_per_s=_best_rate(values, decode, repeats),
        encode_per_s=_best_rate(envelopes, lambda e: to_record(e, None, trace), repeats),
        json_loads_per_s=_best_rate(values, json.loads, repeats),
        json_dumps_per_s=_best_rate(
            plain,
            lambda p: json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode(),
            repeats,
        ),
        span_ids_per_s=_best_rate(values, lambda _: tracing.child_of(trace), repeats),
        mix=dict(sorted(mix.items(), key=lambda kv: -kv[1])),
    )
