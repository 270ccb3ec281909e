"""Services' logs under `dondoc up` rotate by size (services/cli/log_rotation.py), while the service keeps writing
through the append-mode descriptor the launcher gave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.log_rotation import limits_from_env, rotate_if_large, rotate_logs


def test_a_log_under_the_limit_is_left_alone(tmp_path: Path) -> None:
    log = tmp_path / "progress.log"
    log.write_bytes(b"x" * 99)
    assert not rotate_if_large(log, max_bytes=100, keep=3)
    assert log.read_bytes() == b"x" * 99
    assert not (tmp_path / "progress.log.1").exists()


def test_a_full_log_is_copied_aside_and_the_writer_goes_on_at_the_start_of_the_emptied_file(tmp_path: Path) -> None:
    log = tmp_path / "assignment.log"
    with log.open("ab") as service:  # as services/cli/stack.py opens it for the service process
        service.write(b"old line\n" * 20)
        service.flush()
        assert rotate_if_large(log, max_bytes=100, keep=3)
        service.write(b"new line\n")
        service.flush()
    assert (tmp_path / "assignment.log.1").read_bytes() == b"old line\n" * 20
    assert log.read_bytes() == b"new line\n"  # no hole of NUL bytes where the old content was


def test_only_the_newest_rotated_files_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    with log.open("ab") as service:
        for n in range(6):
            service.write(f"generation {n}\n".encode() * 20)
            service.flush()
            rotate_logs([log], max_bytes=100, keep=3)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["alerts.log", "alerts.log.1", "alerts.log.2", "alerts.log.3"]
    assert (tmp_path / "alerts.log.1").read_text().startswith("generation 5")
    assert (tmp_path / "alerts.log.3").read_text().startswith("generation 3")


def test_a_missing_log_is_no_error(tmp_path: Path) -> None:
    assert rotate_logs([tmp_path / "audit.log"], max_bytes=1, keep=1) == []


def test_rotation_limits_come_from_the_environment_and_a_bad_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DONDOC_LOG_MAX_BYTES", "1000")
    monkeypatch.setenv("DONDOC_LOG_KEEP", "5")
    assert limits_from_env() == (1000, 5)
    monkeypatch.setenv("DONDOC_LOG_KEEP", "zero")
    with pytest.raises(ValueError, match="DONDOC_LOG_KEEP='zero': expected a whole number of at least 1"):
        limits_from_env()
