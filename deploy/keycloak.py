"""A local OpenID Connect provider for people: Keycloak, from Maven Central, run with ``java``.

Like the Kafka broker (deploy/kafka.py), the distribution is resolved once by Maven into the cache
outside the repo and unpacked there; each installation (the demo's ``.dondoc/``, a test session's
temporary folder) runs it with its own data under its own home, so two never share accounts. The
provider listens on loopback only. In production any OIDC provider is named by settings instead.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy._proc import pid_alive, port_in_use, read_pid, tail, wait_until
from deploy.errors import InfraError
from deploy.kafka import cache_dir

log = logging.getLogger(__name__)

KEYCLOAK_VERSION = "26.4.7"
_ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip"
_COMPLETE_MARKER = ".complete"

Progress = Callable[[str], None] | None


class KeycloakError(InfraError):
    """The identity provider could not be resolved, started, stopped or reached."""


def _say(on_progress: Progress, message: str) -> None:
    log.info(message)
    if on_progress is not None:
        on_progress(message)


def distribution_dir() -> Path:
    return cache_dir() / f"keycloak-{KEYCLOAK_VERSION}"


def ensure_distribution(on_progress: Progress = None) -> Path:
    """Resolve Keycloak's distribution with Maven (once), unpack it into the cache, return its folder."""
    home = distribution_dir()
    if (home / _COMPLETE_MARKER).exists():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f".keycloak-{KEYCLOAK_VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a CLI and a test session may race for a cold cache
        if (home / _COMPLETE_MARKER).exists():
            return home
        archive = _resolve_archive(on_progress)
        _unpack(archive, home, on_progress)
    return home


def _resolve_archive(on_progress: Progress) -> Path:
    m2 = Path(os.environ.get("MAVEN_REPOSITORY", Path.home() / ".m2" / "repository"))
    archive = (
        m2 / "org/keycloak/keycloak-quarkus-dist" / KEYCLOAK_VERSION / (f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip")
    )
    if archive.exists():
        return archive
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KeycloakError("Maven (mvn) is not installed; it is needed once to download Keycloak")
    _say(on_progress, f"Downloading Keycloak {KEYCLOAK_VERSION} (about 160 MB) from Maven Central")
    cmd = [mvn, "-q", "-B", "dependency:get", f"-Dartifact={_ARTIFACT}", "-Dtransitive=false"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0 or not archive.exists():
        output = "\n".join(result.stdout.splitlines()[-20:])
        raise KeycloakError(f"mvn could not resolve {_ARTIFACT} (exit code {result.returncode}):\n{output}")
    return archive


def _unpack(archive: Path, home: Path, on_progress: Progress) -> None:
    _say(on_progress, f"Unpacking Keycloak into {home}")
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        top = f"keycloak-{KEYCLOAK_VERSION}/"
        for info in zf.infolist():
            if not info.filename.startswith(top) or info.filename == top:
                continue
            target = staging / info.filename[len(top) :]
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            # zipfile drops Unix modes; kc.sh and friends must stay executable.
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    staging.rename(home)
    (home / _COMPLETE_MARKER).write_text(KEYCLOAK_VERSION + "\n")


class KeycloakNode:
    """One Keycloak on loopback, its database, logs and pid under ``home``."""

    def __init__(self, home: Path, port: int = 8180, management_port: int = 9180) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.management_port = management_port
        self.host = "127.0.0.1"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "keycloak.pid"

    @property
    def out_file(self) -> Path:
        return self.home / "logs" / "keycloak.out"

    @property
    def admin_file(self) -> Path:
        return self.home / "admin.json"

    def admin_credentials(self) -> tuple[str, str]:
        """The bootstrap admin of this installation, made once and kept 0600 beside the data."""
        if not self.admin_file.exists():
            import secrets

            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.admin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump({"username": "dondoc-admin", "password": secrets.token_urlsafe(24)}, out)
        data = json.loads(self.admin_file.read_text())
        return data["username"], data["password"]

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid, str(self.home)):
            return pid
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def status(self) -> dict[str, Any]:
        pid = self.pid()
        return {"running": pid is not None, "pid": pid, "url": self.url, "version": KEYCLOAK_VERSION,
                "home": str(self.home), "log": str(self.out_file)}  # fmt: skip

    def start(self, timeout: float = 180, *, on_progress: Progress = None) -> str:
        """Start the provider if needed; return its base URL once it reports ready."""
        if self.pid() is None:
            dist = ensure_distribution(on_progress)
            for port in (self.port, self.management_port):
                if port_in_use(self.host, port):
                    raise KeycloakError(
                        f"port {port} is already in use by another process; stop it or choose other ports "
                        "(DONDOC_KEYCLOAK_PORT / DONDOC_KEYCLOAK_MANAGEMENT_PORT)"
                    )
            self._spawn(dist, on_progress)
        started = time.monotonic()
        if not wait_until(self._ready, timeout, interval=0.5):
            self.stop()
            raise KeycloakError(
                f"Keycloak at {self.url} not ready after {timeout:.0f}s\n"
                f"--- last lines of {self.out_file} ---\n{tail(self.out_file)}"
            )
        _say(on_progress, f"Keycloak ready on {self.url} in {time.monotonic() - started:.1f}s")
        return self.url

    def _spawn(self, dist: Path, on_progress: Progress) -> None:
        username, password = self.admin_credentials()
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.out_file.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "KC_BOOTSTRAP_ADMIN_USERNAME": username,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": password,
            # A small heap: a dev provider for a few hundred accounts.
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
        }
        cmd = [
            "bash", str(dist / "bin" / "kc.sh"), "start-dev",
            f"--http-host={self.host}",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--health-enabled=true",
            # This installation's own database, not the distribution's shared data/ folder.
            "--db=dev-file",
            f"--db-url=jdbc:h2:file:{self.home / 'data' / 'keycloakdb'};NON_KEYWORDS=VALUE",
            "--log=console",
        ]  # fmt: skip
        _say(on_progress, f"Starting Keycloak {KEYCLOAK_VERSION} on {self.url}")
        with self.out_file.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd, env=env, cwd=self.home, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(f"{self._proc.pid}\n")

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            self.pid_file.unlink(missing_ok=True)
            raise KeycloakError(f"Keycloak exited while starting.\n{tail(self.out_file)}")
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.management_port}/health/ready", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the whole process group (kc.sh and its JVM), SIGKILL after ``timeout``; idempotent."""
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
            if not wait_until(lambda: not pid_alive(pid), timeout):
                _signal_group(pid, signal.SIGKILL)
                wait_until(lambda: not pid_alive(pid), 10)
        if self._proc is not None:
            self._proc.poll()
            self._proc = None
        self.pid_file.unlink(missing_ok=True)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
