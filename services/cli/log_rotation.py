"""Size-based rotation of the services' logs under `dondoc up` (issue 17: a broker outage once grew one log
by 1.27 GB).

The services write to files the launcher opened for them in append mode (services/cli/stack.py), so the
launcher rotates by copy and truncate, as logrotate's ``copytruncate``: ``NAME.log`` is copied to
``NAME.log.1`` (older copies shift to ``.2`` … ``.KEEP``, the oldest dropped) and emptied in place. The service
keeps its file descriptor; with O_APPEND its next line lands at the start of the emptied file, with no hole.
What a service writes in the instant between the last copy and the truncation is lost: a few lines at most,
the price of not making every service reopen its log.

``DONDOC_LOG_MAX_BYTES`` (default 20 MiB) and ``DONDOC_LOG_KEEP`` (default 3 rotated files) tune it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024
KEEP = 3


def limits_from_env() -> tuple[int, int]:
    """(max bytes, files kept) from the environment; a value that is no positive whole number is refused."""
    values = []
    for name, default in (("DONDOC_LOG_MAX_BYTES", MAX_BYTES), ("DONDOC_LOG_KEEP", KEEP)):
        raw = os.environ.get(name, str(default))
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{name}={raw!r}: expected a whole number of at least 1")
        values.append(int(raw))
    return values[0], values[1]


def rotate_if_large(path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> bool:
    """Rotate ``path`` when it has grown to ``max_bytes``; returns whether it did."""
    try:
        if path.stat().st_size < max_bytes:
            return False
    except FileNotFoundError:
        return False
    rotated = [path.with_name(f"{path.name}.{n}") for n in range(1, keep + 1)]
    rotated[-1].unlink(missing_ok=True)
    for older, newer in zip(reversed(rotated[1:]), reversed(rotated[:-1]), strict=True):
        if newer.exists():
            os.replace(newer, older)
    with path.open("rb") as live, rotated[0].open("wb") as copy:
        shutil.copyfileobj(live, copy)
        shutil.copyfileobj(live, copy)  # what was written during the copy: the window left is this instant
        os.truncate(path, 0)
    return True


def rotate_logs(paths: Iterable[Path], max_bytes: int = MAX_BYTES, keep: int = KEEP) -> list[Path]:
    """Rotate each of ``paths`` that is too large; the ones rotated."""
    return [path for path in paths if rotate_if_large(path, max_bytes, keep)]
