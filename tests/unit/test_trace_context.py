"""Trace context propagation (services/runtime/tracing.py), no broker or database: parsing a traceparent, spans
continuing or starting traces, the outbox's records carrying one, the HTTP middleware, logs' trace_id."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from events.clock import VN_TZ
from events.codec import to_record
from events.envelope import Actor, new_envelope
from events.tasks import ProgressReported
from services.runtime import tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_read_and_anything_else_is_not() -> None:
    assert tracing.parse(PARENT) == (TRACE, "00f067aa0ba902b7", "01")
    assert tracing.parse(PARENT.encode()) == (TRACE, "00f067aa0ba902b7", "01")
    bad_values = [
        None,
        "",
        "garbage",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"ff-{TRACE}-00f067aa0ba902b7-01",
        f"00-{TRACE[:-1]}-00f067aa0ba902b7-01",
        PARENT + "x" * 600,
    ]
    for bad in bad_values:
        assert tracing.parse(bad) is None, bad


def test_a_child_stays_in_its_parents_trace_with_a_new_span_and_an_invalid_parent_starts_a_trace() -> None:
    child = tracing.parse(tracing.child_of(PARENT))
    assert child is not None and child[0] == TRACE and child[1] != "00f067aa0ba902b7" and child[2] == "01"
    fresh = tracing.parse(tracing.child_of("not a traceparent"))
    assert fresh is not None and fresh[0] != TRACE


def test_inside_a_span_the_current_traceparent_and_the_logs_name_the_trace() -> None:
    assert tracing.current() is None
    with tracing.span("consume dondoc.task-events", PARENT) as traceparent:
        assert tracing.current() == traceparent
        assert tracing.trace_id_of(traceparent) == TRACE
        assert structlog.contextvars.get_contextvars()["trace_id"] == TRACE
    assert tracing.current() is None
    assert "trace_id" not in structlog.contextvars.get_contextvars()


def test_a_record_header_traceparent_is_found_among_the_others() -> None:
    assert tracing.from_headers([("event_type", b"TaskAssigned"), ("traceparent", PARENT.encode())]) == PARENT
    assert tracing.from_headers([("event_type", b"TaskAssigned")]) is None
    assert tracing.from_headers(None) is None


def test_an_event_encoded_for_kafka_carries_the_given_traceparent_header() -> None:
    envelope = new_envelope(
        ProgressReported(percent=10, note="n"),
        event_id=uuid.uuid4(),
        occurred_at=datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ),
        producer="progress",
        actor=Actor(agency_id="bd-sgddt"),
        task_id="t-1",
    )
    assert ("traceparent", PARENT.encode()) in to_record(envelope, traceparent=PARENT).headers
    assert "traceparent" not in dict(to_record(envelope).headers)


async def test_a_request_continues_the_callers_trace_and_the_answer_names_its_own_span() -> None:
    seen: dict[str, Any] = {}
    app = FastAPI()

    @app.get("/here")
    async def here() -> dict[str, str]:
        seen["current"] = tracing.current()
        return {}

    app.add_middleware(tracing.TraceMiddleware)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        continued = await client.get("/here", headers={"traceparent": PARENT})
        assert continued.headers["traceparent"] == seen["current"]
        assert tracing.trace_id_of(seen["current"]) == TRACE
        started = await client.get("/here")
    assert tracing.parse(started.headers["traceparent"]) is not None
    assert tracing.trace_id_of(started.headers["traceparent"]) != TRACE


def test_without_an_otlp_endpoint_no_sdk_is_set_up(monkeypatch: Any) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setattr(tracing, "_tracer", None)
    assert tracing.configure("progress") is False
    assert tracing._tracer is None


def test_with_an_otlp_endpoint_spans_are_recorded_with_the_sdk_and_keep_the_trace(monkeypatch: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    with tracing.span("consume dondoc.task-events", PARENT, kind="consumer") as traceparent:
        assert tracing.trace_id_of(traceparent) == TRACE
    [recorded] = exported.get_finished_spans()
    assert format(recorded.context.trace_id, "032x") == TRACE
    assert recorded.parent is not None and format(recorded.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert traceparent.split("-")[2] == format(recorded.context.span_id, "016x")


def test_a_span_id_is_new_each_time_and_never_all_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = tracing.child_of(None)
    spans = {tracing.child_of(parent).split("-")[2] for _ in range(1000)}
    assert len(spans) == 1000
    monkeypatch.setattr(tracing, "_random_bits", lambda bits: 0)
    assert tracing.parse(tracing.child_of(parent)) is not None  # all zero is invalid (W3C)
    assert tracing.child_of(parent).split("-")[2] == "0000000000000001"


def test_a_forked_child_draws_other_span_ids_than_its_parent() -> None:
    """The span generator is the process's own: re-seeded in a fork, else parent and child repeat each other."""
    parent = tracing.child_of(None)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next span ids, then out without pytest's teardown
        os.write(write, " ".join(tracing.child_of(parent) for _ in range(5)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    in_child = set(os.read(read, 4096).decode().split())
    os.close(read)
    assert len(in_child) == 5
    assert in_child.isdisjoint(tracing.child_of(parent) for _ in range(5))
