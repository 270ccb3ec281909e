"""An instant in reporting's JSON as Python's ``isoformat`` writes it, whatever writes the JSON.

pydantic writes a UTC instant as ``…Z``; the reporting routes have always written ``…+00:00`` (asyncpg
gives timestamptz in UTC), and the dashboard, the CLI and other readers were written against that."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer

IsoDatetime = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]
