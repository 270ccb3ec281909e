"""Secrets a local installation makes for itself once (token secret, audit key, database passwords)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def made_once(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path`` (0600), made by ``make`` the first time. Several dondoc commands may start
    at once: the content is written whole to a private file, then linked into place atomically; whoever
    loses the race reads the winner's."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text()
