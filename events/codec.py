"""The one codec of dondoc: envelope <-> Kafka record (JSON value, key, headers).

Everything that reads or writes Kafka goes through here, so the wire format is defined in
one place and a malformed record always fails the same, explainable way.
"""

from __future__ import annotations

import enum
import json
import types
import typing
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, PlainSerializer, ValidationError, WrapSerializer
from pydantic_core import PydanticSerializationError, from_json

from events.envelope import Envelope
from events.registry import payload_class
from events.text import nfc

_PLAIN_CONTAINERS = (typing.Union, types.UnionType, tuple, list, frozenset, set)


class DecodeError(ValueError):
    """A record that is not a dondoc envelope; the message says what was wrong."""


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def encode_value(envelope: Envelope) -> bytes:
    """The envelope as compact UTF-8 JSON, Vietnamese readable (not \\u escapes); pydantic already normalised
    it to NFC. These bytes are the contract: audit chains them and the relay publishes them as stored.

    They were first written by ``json.dumps`` over ``model_dump(mode="json")``. pydantic's own JSON writer
    gives the same bytes for every string, integer, date, time and id (the same escapes: ``\\"``, ``\\\\``,
    ``\\n``…, other control characters as lowercase ``\\u00xx``, everything else raw) at a third of the cost,
    so it writes every payload made of those only; a payload with a float (Python's ``1e-07`` is its
    ``1e-7``) or a type not known here keeps ``json.dumps``. ``tests/unit/test_wire_bytes.py`` holds both
    to each other for every event type."""
    if _plain_json(type(envelope.payload)):
        try:
            return envelope.__pydantic_serializer__.to_json(envelope)
        except PydanticSerializationError:
            pass  # a lone surrogate in a str field: json.dumps' way raises its UnicodeEncodeError, as it did
    return _json_dumps(envelope)


def _json_dumps(envelope: Envelope) -> bytes:
    return json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()


# Leaf types pydantic writes to JSON exactly as json.dumps writes their model_dump(mode="json") (see above).
_PLAIN_LEAVES: tuple[type, ...] = (str, int, bool, type(None), date, datetime, uuid.UUID)
_plain: dict[type, bool] = {}


def _plain_json(cls: type[BaseModel]) -> bool:
    """Whether every field of ``cls``, nested models and containers included, is of a plain leaf type."""
    known = _plain.get(cls)
    if known is None:
        _plain[cls] = True  # a model nested in itself is judged by its other fields
        decorators = cls.__pydantic_decorators__
        known = _plain[cls] = (
            not decorators.field_serializers
            and not decorators.model_serializers
            and all(_plain_type(f.annotation, f.metadata) for f in cls.model_fields.values())
        )
    return known


def _plain_type(annotation: Any, metadata: Sequence[Any] = ()) -> bool:
    if any(isinstance(m, PlainSerializer | WrapSerializer) for m in metadata):
        return False
    if get_origin(annotation) is Literal:
        return all(isinstance(a, _PLAIN_LEAVES) for a in get_args(annotation))
    args = get_args(annotation)
    if args:  # Union, Optional, tuple[...], list[...], Annotated[type, metadata...]
        if get_origin(annotation) is Annotated:
            return _plain_type(args[0], args[1:])
        return get_origin(annotation) in _PLAIN_CONTAINERS and all(a is Ellipsis or _plain_type(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _plain_json(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return all(isinstance(m.value, str | int) and not isinstance(m.value, bool) for m in annotation)
    return annotation in _PLAIN_LEAVES


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
        # Every string of a text that is NFC as a whole and has no escapes is a piece of it cut at quotes,
        # which never combine with a neighbour: already NFC. Only other texts are walked (a replay decodes
        # a million records; the walk was a third of its decoding).
        if "\\" in text or not unicodedata.is_normalized("NFC", text):
            raw: Any = _nfc_strings(json.loads(text))
        else:
            raw = _parsed(value, text)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"message is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise DecodeError(f"message is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:  # "[[[[…" a hundred thousand deep: json gives up with RecursionError
        raise DecodeError("message is nested too deeply to be an envelope") from exc
    except ValueError as exc:  # an integer of more digits than Python converts (4,300): no field takes one
        raise DecodeError(f"message holds a number too long to read: {exc}") from exc
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
        payload = cls.__pydantic_validator__.validate_python(raw.get("payload"))
    except ValidationError as exc:
        raise DecodeError(f"invalid {event_type} v{version}: {_describe(exc, 'payload')}") from exc
    raw["payload"] = payload  # raw is this call's own dict: no copy needed to put the payload in
    try:
        envelope: Envelope = Envelope.__pydantic_validator__.validate_python(raw)
    except ValidationError as exc:
        raise DecodeError(f"invalid {event_type} v{version}: {_describe(exc)}") from exc
    return envelope


def _parsed(value: bytes, text: str) -> Any:
    """``json.loads(text)``, by pydantic's parser (jiter), which takes half the time. For a text without
    escapes the two give the same value, numbers included (NaN, Infinity, 1E400, duplicate keys: the
    last); what jiter refuses (bad JSON, over 200 levels deep, a number it cannot hold) is parsed again by
    ``json.loads``, so a refusal, and its message, are json's as before and nothing jiter alone would
    refuse is lost (tests/unit/test_wire_bytes.py compares them)."""
    try:
        return from_json(value)
    except ValueError:
        return json.loads(text)


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
