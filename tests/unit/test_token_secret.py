"""The local installation's token secret is made once, even when several commands start together."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


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
