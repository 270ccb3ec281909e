"""The local installation's token secret is made once, even when several commands start together."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest


def _secret_in(home: str) -> str:
    import os

    os.environ["DONDOC_HOME"] = home
    os.environ.pop("DONDOC_TOKEN_SECRET", None)
    from deploy.stack import token_secret

    return token_secret()


def test_concurrent_commands_share_one_secret(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=8) as pool:
        secrets = list(pool.map(_secret_in, [str(tmp_path)] * 16))
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 32
    assert (tmp_path / "token-secret").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token-secret"]  # no drafts left behind


def test_a_service_without_a_token_secret_refuses_to_start() -> None:

    from services.registry import definition
    from services.runtime.service import create_app
    from services.runtime.settings import MissingTokenSecret, Settings

    with pytest.raises(MissingTokenSecret, match="DONDOC_TOKEN_SECRET is not set"):
        create_app(definition("progress"), Settings(token_secret=""))


def test_dondoc_service_does_not_make_a_secret_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the local stack (`dondoc up` passes its secret), a service started without one stops with
    the reason, instead of signing with a secret made in its container that no other service shares."""
    from typer.testing import CliRunner

    from services.cli.main import app
    from services.runtime.settings import get_settings

    monkeypatch.delenv("DONDOC_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("DONDOC_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["service", "progress"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "DONDOC_TOKEN_SECRET is not set" in result.output
    assert not (tmp_path / "token-secret").exists()


def test_a_short_token_secret_is_refused() -> None:
    from pydantic import ValidationError

    from services.runtime.settings import Settings

    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(token_secret="short")
