"""The one codec of dondoc: envelope <-> Kafka record (JSON value, key, headers).

Everything that reads or writes Kafka goes through here, so the wire format is defined in
one place and a malformed record always fails the same, explainable way.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from events.envelope import Envelope
from events.registry import payload_class
from events.text import nfc


class DecodeError(ValueError):
    """A record that is not a dondoc envelope; the message says what was wrong."""


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def encode_value(envelope: Envelope) -> bytes:
    # ensure_ascii=False keeps Vietnamese readable in the log; pydantic already normalised to NFC.
    return json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()


def headers_for(envelope: Envelope, traceparent: str | None = None) -> tuple[tuple[str, bytes], ...]:
    headers = [
        ("event_type", envelope.event_type.encode()),
        ("schema_version", str(envelope.schema_version).encode()),
        ("correlation_id", str(envelope.correlation_id).encode()),
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return tuple(headers)


def key_for(envelope: Envelope, fallback: str | None = None) -> bytes | None:
    key = envelope.task_id or fallback or envelope.actor.agency_id
    return key.encode() if key else None


def to_record(envelope: Envelope, key: str | None = None, traceparent: str | None = None) -> KafkaRecord:
    return KafkaRecord(
        topic=envelope.topic,
        key=key.encode() if key is not None else key_for(envelope),
        value=encode_value(envelope),
        headers=headers_for(envelope, traceparent),
    )


def decode(value: bytes | None) -> Envelope:
    if not value:
        raise DecodeError("empty message: a dondoc envelope (JSON object) is expected")
    try:
        text = value.decode("utf-8")
        raw: Any = json.loads(text)
        # Every string of a text that is NFC as a whole and has no escapes is a piece of it cut at quotes,
        # which never combine with a neighbour: already NFC. Only other texts are walked (a replay decodes
        # a million records; the walk was a third of its decoding).
        if "\\" in text or not unicodedata.is_normalized("NFC", text):
            raw = _nfc_strings(raw)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"message is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise DecodeError(f"message is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:  # "[[[[…" a hundred thousand deep: json gives up with RecursionError
        raise DecodeError("message is nested too deeply to be an envelope") from exc
    if not isinstance(raw, dict):
        raise DecodeError(f"message is JSON {type(raw).__name__}, expected an envelope object")
    event_type, version = raw.get("event_type"), raw.get("schema_version")
    # bool is an int to Python, not to a reader of the envelope: `true` is no version number.
    if not isinstance(event_type, str) or not isinstance(version, int) or isinstance(version, bool):
        raise DecodeError("envelope needs a string 'event_type' and an integer 'schema_version'")
    cls = payload_class(event_type, version)
    if cls is None:
        raise DecodeError(f"unknown event type {event_type!r} version {version}")
    try:
        payload = cls.model_validate(raw.get("payload"))
    except ValidationError as exc:
        raise DecodeError(f"invalid {event_type} v{version}: {_describe(exc, 'payload')}") from exc
    try:
        return Envelope.model_validate({**raw, "payload": payload})
    except ValidationError as exc:
        raise DecodeError(f"invalid {event_type} v{version}: {_describe(exc)}") from exc


def _nfc_strings(value: Any) -> Any:
    """Every string of the parsed JSON in NFC. Normalising the raw text instead would miss text that
    arrives as \\u escapes (json.dumps' default), leaving NFD in every field not typed NFCStr."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, list):
        return [_nfc_strings(v) for v in value]
    if isinstance(value, dict):
        return {nfc(k): _nfc_strings(v) for k, v in value.items()}
    return value


def _describe(exc: ValidationError, *within: str) -> str:
    """Where and what, e.g. ``payload.percent: Input should be less than or equal to 100``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in (*within, *e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:5]
    )
