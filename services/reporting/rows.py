"""Frozen rows from asyncpg records, by the row's own field names.

A read names its columns once, as the fields of the dataclass it returns; a column the query no longer
gives (renamed, dropped) fails at the read, by name, not later as a key missing in a dict, and every
reader of the row is checked by the type checker against its fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")

_NAMES: dict[type[Any], tuple[str, ...]] = {}


def row_of(cls: type[T], record: Mapping[str, Any], **given: Any) -> T:
    """A ``cls`` (a dataclass) from ``record``'s columns of the same names; ``given`` values are taken instead."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]  # a dataclass
    return cls(**{name: given[name] if name in given else record[name] for name in names})
