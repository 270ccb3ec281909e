"""W3C trace context across HTTP, the outbox and Kafka (docs/tracing.md).

* An HTTP request continues the caller's ``traceparent`` header or starts a trace (``TraceMiddleware``); the
  answer carries the request's own ``traceparent``, so a caller can find its trace.
* Every event written to the outbox carries the ``traceparent`` current where it was emitted (a request, a
  consumed event, an intake record), or a new trace's when nothing caused it but the service itself (a timer,
  the CLI): ``events/codec.headers_for``, stored with the row and published by the relay as a Kafka header.
* A consumer continues the trace of the record it handles (``span``), so what its handler emits is a child.
* A timer keeps the traceparent current where it was scheduled; its firing is a span continuing it, so the
  event it causes (TaskOverdue, a reminder) is in the trace of the event or request that planned it.
* Log lines inside carry ``trace_id`` and ``span_id`` (structlog context variables).

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans are also recorded with the OpenTelemetry SDK and exported over
OTLP/HTTP (the SDK reads the ``OTEL_*`` variables itself). Unset, no SDK object exists: the ids are made here
(a few random bytes and a context variable per request or record), nothing is recorded or sent.
"""

from __future__ import annotations

import os
import random
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog

HEADER = "traceparent"
_FORMAT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INVALID_TRACE, _INVALID_SPAN = "0" * 32, "0" * 16
# The longest traceparent accepted from outside: version 00 is exactly 55 characters; a later version may
# append fields, which are ignored (W3C: a parser reads the first four).
_MAX_LENGTH = 512

_current: ContextVar[str | None] = ContextVar("dondoc_traceparent", default=None)
# Its own generator: span ids go out in HTTP answers, and what they tell of its state must tell nothing of
# the module-level one others draw from. Re-seeded in a forked child, which would otherwise repeat its parent.
_span_random = random.Random()
os.register_at_fork(after_in_child=_span_random.seed)
_random_bits = _span_random.getrandbits
_tracer: Any = None  # an OpenTelemetry tracer once configure() found an OTLP endpoint


def configure(service: str) -> bool:
    """Record and export spans when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; returns whether it is. Once per
    process: a second call (a test starting several services) keeps the first provider."""
    global _tracer
    if _tracer is not None:
        return True
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer("dondoc")
    return True


def parse(value: str | bytes | None) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a W3C ``traceparent``; None for anything else (absent, malformed,
    all-zero ids, version ff): such a value starts a new trace instead, as the W3C recommendation says."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not value or len(value) > _MAX_LENGTH:
        return None
    # What dondoc itself writes matches as it is; only another writer's needs stripping and lowering first.
    match = _FORMAT.match(value) or _FORMAT.match(value.strip().lower())
    if match is None or match[1] == _INVALID_TRACE or match[2] == _INVALID_SPAN:
        return None
    return match[1], match[2], match[3]


def from_headers(headers: Any) -> str | None:
    """The ``traceparent`` among Kafka record headers ((name, bytes) pairs), if any."""
    for name, value in headers or ():
        if name == HEADER:
            return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return None


def child_of(parent: str | bytes | None) -> str:
    """A traceparent for a new span: in ``parent``'s trace when it is valid, else in a new trace (sampled)."""
    parsed = parse(parent)
    trace_id, flags = (parsed[0], parsed[2]) if parsed else (secrets.token_hex(16), "01")
    return f"00-{trace_id}-{_span_id()}-{flags}"


def _span_id() -> str:
    """16 hex digits, never all zero (W3C: invalid). A span id only needs to be unique within its trace, not
    secret: Mersenne Twister bits (seeded from the OS) instead of the OS's own, which cost a system call for
    each of the events a consumer handles (issue 14). Trace ids stay the OS's: they are drawn once a trace."""
    return f"{_random_bits(64) or 1:016x}"


def current() -> str | None:
    """The traceparent of the span this code runs in (a request, a consumed record), None outside any."""
    return _current.get()


def trace_id_of(traceparent: str | None) -> str | None:
    parsed = parse(traceparent)
    return parsed[0] if parsed else None


@contextmanager
def span(name: str, parent: str | bytes | None = None, *, kind: str = "internal", **attributes: Any) -> Iterator[str]:
    """Run the block in a span continuing ``parent`` (a traceparent; absent or invalid: a new trace). Inside,
    ``current()`` is the span's traceparent and logs carry its trace and span ids; yields the traceparent."""
    if _tracer is None:
        with _within(child_of(parent)) as traceparent:
            yield traceparent
        return
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    parsed = parse(parent)
    context = TraceContextTextMapPropagator().extract({HEADER: f"00-{'-'.join(parsed)}"}) if parsed else Context()
    otel_kind = getattr(trace.SpanKind, kind.upper(), trace.SpanKind.INTERNAL)
    with _tracer.start_as_current_span(name, context=context, kind=otel_kind, attributes=attributes) as otel_span:
        ids = otel_span.get_span_context()
        with _within(f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}") as traceparent:
            yield traceparent


@contextmanager
def joined(traceparent: str | None) -> Iterator[None]:
    """Run the block in a span already made elsewhere (a batch's unit of work carries one per event): inside,
    ``current()`` is ``traceparent``, so what the block schedules joins its trace. None: nothing changes."""
    if traceparent is None:
        yield
        return
    with _within(traceparent):
        yield


@contextmanager
def _within(traceparent: str) -> Iterator[str]:
    token = _current.set(traceparent)
    _, trace_id, span_id, _ = traceparent.split("-")
    try:
        with structlog.contextvars.bound_contextvars(trace_id=trace_id, span_id=span_id):
            yield traceparent
    finally:
        _current.reset(token)


class TraceMiddleware:
    """ASGI middleware: each HTTP request in a server span continuing the caller's ``traceparent``; the answer
    carries the request's own. Pure ASGI (not BaseHTTPMiddleware): streamed answers (SSE) pass untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = dict(scope.get("headers") or ()).get(HEADER.encode())
        method = scope.get("method", "")
        attributes = {"http.request.method": method, "url.path": scope.get("path", "")}
        with span(f"HTTP {method}", parent, kind="server", **attributes) as tp:

            async def send_with_trace(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), (HEADER.encode(), tp.encode())]}
                await send(message)

            await self.app(scope, receive, send_with_trace)
