"""The five services by name, imported only when asked for (a process runs one)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from events.topics import SERVICES

if TYPE_CHECKING:
    from services.runtime.service import ServiceDefinition


def definition(name: str) -> ServiceDefinition:
    if name not in SERVICES:
        raise KeyError(f"unknown service {name!r}; the services are: {', '.join(SERVICES)}")
    return import_module(f"services.{name}.bootstrap").DEFINITION  # type: ignore[no-any-return]
