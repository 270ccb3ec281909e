"""A local single-node Apache Kafka broker (KRaft, broker and controller in one JVM).

There is no Kafka package in Debian or PyPI and no Docker here, so the real broker's jars are
resolved from Maven Central (``deploy/kafka/pom.xml``) into a cache outside the repo, and the broker
runs as a detached ``java`` process whose state (data, logs, pid, config) lives in a home directory.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy._aio import run_sync
from deploy._proc import pid_alive, port_in_use, read_pid, tail, wait_until
from deploy.errors import JarResolutionError, KafkaAuthError, KafkaNotReadyError, KafkaStartError
from deploy.tls import TlsFiles, ensure_tls
from events.kafka_access import ADMIN_PRINCIPAL
from services.runtime.kafka_config import KafkaLoginRefused, check_login, client_options
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"

_KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM_FILE = _KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = _KAFKA_DIR / "log4j2.properties"

# Written only after Maven copied every jar, so an interrupted download is redone, not trusted.
_COMPLETE_MARKER = ".complete"
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"

# As bin/kafka-run-class.sh and kafka-server-start.sh; a small heap is plenty for a dev broker.
HEAP_OPTS = ("-Xms256m", "-Xmx512m")
JVM_PERFORMANCE_OPTS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)

Progress = Callable[[str], None] | None


def cache_dir() -> Path:
    """Where downloaded artefacts live: shared by every checkout, never committed."""
    env = os.environ.get("DONDOC_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dondoc"


def jars_dir(version: str | None = None) -> Path:
    return cache_dir() / f"kafka-{version or KAFKA_VERSION}" / "lib"


def _say(on_progress: Progress, message: str) -> None:
    log.info(message)
    if on_progress is not None:
        on_progress(message)


def ensure_jars(on_progress: Progress = None) -> Path:
    """Resolve the broker's jars with Maven (once) and return the folder holding them."""
    lib = jars_dir()
    marker = lib.parent / _COMPLETE_MARKER
    if marker.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    # Two processes (CLI and a test session) may race for a cold cache: the lock makes the second
    # wait for the first and then find the marker.
    with (lib.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return lib
        _download_jars(lib, on_progress)
        marker.write_text(KAFKA_VERSION + "\n")
    return lib


def _download_jars(lib: Path, on_progress: Progress) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError("Maven (mvn) is not installed; it is needed once to download Kafka's jars")
    _say(on_progress, f"Downloading Apache Kafka {KAFKA_VERSION} jars from Maven Central into {lib}")
    staging = lib.with_name("lib.partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(lib, ignore_errors=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(POM_FILE),
        f"-Dkafka.version={KAFKA_VERSION}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        # Maven 3.8 emits colour resets even in batch mode; they would garble the message.
        output = "\n".join(_ANSI_ESCAPE.sub("", result.stdout).splitlines()[-30:])
        raise JarResolutionError(
            f"mvn could not resolve Kafka {KAFKA_VERSION} (exit code {result.returncode}):\n{output}"
        )
    staging.rename(lib)
    count = sum(1 for _ in lib.glob("*.jar"))
    _say(on_progress, f"Kafka jars ready: {count} jars in {time.monotonic() - started:.1f}s")


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaStartError("Java (17 or newer) is not installed; Kafka needs it")
    return java


def new_cluster_id() -> str:
    """A Kafka cluster id, as ``StorageTool random-uuid`` would print, without starting a JVM.

    Kafka's Uuid.toString is the unpadded URL-safe base64 of 16 random bytes, and Kafka avoids
    ids starting with '-' because command-line tools would read them as options.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


async def _metadata_once(settings: Settings, request_timeout: float) -> int:
    """Number of brokers the cluster reports; raises if the bootstrap servers do not answer."""
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(**client_options(settings), request_timeout_ms=int(request_timeout * 1000))
    try:
        await client.bootstrap()
        return len(client.cluster.brokers())
    finally:
        await client.close()


def kafka_hosts(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` -> [(host, port), ...]."""
    hosts = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        hosts.append((host.strip("[]") or "localhost", int(port or 9092)))
    return hosts


async def _any_port_open(bootstrap: str) -> bool:
    for host, port in kafka_hosts(bootstrap):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1)
        except (TimeoutError, OSError):
            continue
        writer.close()
        return True
    return False


# A timeout parameter rather than asyncio.timeout(): callers without an event loop pass it through
# run_sync, and the deadline also ends in a message saying what was still missing.
async def wait_until_ready(
    settings: Settings,
    timeout: float,  # noqa: ASYNC109
    *,
    check: Callable[[], None] | None = None,
) -> None:
    """Poll until a broker answers a metadata request listing at least one broker, asked as the principal
    of ``settings``.

    ``check`` runs before each attempt and may raise to abort early (e.g. the broker process died).
    A refused login ends the wait at once (``KafkaAuthError``): it will not pass by waiting.
    """
    bootstrap = settings.kafka_bootstrap
    deadline = time.monotonic() + timeout
    last_error = "nothing listens on the port yet"
    while True:
        if check is not None:
            check()
        # A plain TCP probe first: aiokafka logs every refused connection at ERROR level, which
        # would flood the output while the JVM is still booting.
        if await _any_port_open(bootstrap):
            remaining = max(1.0, min(10.0, deadline - time.monotonic()))
            try:
                await check_login(settings, remaining)
                if await _metadata_once(settings, remaining) > 0:
                    return
                last_error = "metadata lists no broker yet"
            except KafkaLoginRefused as err:
                raise KafkaAuthError(str(err)) from err
            except Exception as err:  # aiokafka raises several unrelated types while a broker boots
                last_error = f"{type(err).__name__}: {err}"
        if time.monotonic() >= deadline:
            raise KafkaNotReadyError(f"Kafka at {bootstrap} not ready after {timeout:.0f}s ({last_error})")
        await asyncio.sleep(0.2)


def secure_listeners(
    host: str, port: int, controller_port: int, admin_password: str, tls: TlsFiles | None
) -> dict[str, str]:
    """The secure profile's listeners and authorizer, the same for one broker or several.

    * CLIENT (clients and inter-broker): SASL SCRAM-SHA-512, over TLS when ``tls`` is given. Brokers log
      in to each other as the admin, whose credential the storage was formatted with.
    * CONTROLLER: SASL PLAIN with the admin's name and password from this file. SCRAM cannot serve it
      (its credentials live in the metadata the controllers themselves serve), and a PLAINTEXT controller
      listener would make its unauthenticated callers ``User:ANONYMOUS`` — which would then have to be a
      super-user. This way the admin is the only super-user.
    * StandardAuthorizer, nothing allowed without an ACL (events/kafka_access.py).
    """
    client_protocol = "SASL_SSL" if tls else "SASL_PLAINTEXT"
    jaas_user = f'username="{ADMIN_PRINCIPAL}" password="{admin_password}"'
    props = {
        "listeners": f"CLIENT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"CLIENT://{host}:{port}",
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": f"CLIENT:{client_protocol},CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.client.scram-sha-512.sasl.jaas.config":
            f"org.apache.kafka.common.security.scram.ScramLoginModule required {jaas_user};",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config":
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {jaas_user} "
            f'user_{ADMIN_PRINCIPAL}="{admin_password}";',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN_PRINCIPAL}",
    }  # fmt: skip
    if tls:
        props |= {
            "listener.name.client.ssl.keystore.type": "PEM",
            "listener.name.client.ssl.keystore.location": str(tls.keystore),
            "listener.name.client.ssl.truststore.type": "PEM",
            "listener.name.client.ssl.truststore.location": str(tls.ca),
        }
    return props


class KafkaNode:
    """One KRaft broker+controller on loopback, its state under ``home``."""

    def __init__(
        self,
        home: Path,
        port: int = 9092,
        controller_port: int = 9093,
        *,
        admin_password: str,
        tls: bool = False,
        node_id: int = 1,
        voters: str = "",
        replication: int = 1,
    ) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.controller_port = controller_port
        # One node of a cluster: its id and every voter (``1@host:port,2@…``); alone, itself.
        self.node_id = node_id
        self.voters = voters or f"{node_id}@127.0.0.1:{controller_port}"
        # Copies of each internal topic's partitions (consumer offsets, transactions): 1 alone, 3 in a cluster.
        self.replication = replication
        self.host = "127.0.0.1"
        self.admin_password = admin_password
        self.tls = tls
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def tls_files(self) -> TlsFiles:
        return ensure_tls(self.home / "tls")

    def admin_settings(self) -> Settings:
        """The admin principal's client settings for this broker."""
        return Settings(
            kafka_bootstrap=self.bootstrap,
            kafka_username=ADMIN_PRINCIPAL,
            kafka_password=self.admin_password,
            kafka_tls=self.tls,
            kafka_ca_file=str(self.tls_files.ca) if self.tls else "",
        )

    @property
    def _scram_marker(self) -> Path:
        """Present once the storage holds the admin's SCRAM credential (formatted so, or upgraded)."""
        return self.home / "scram-admin"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    @property
    def out_file(self) -> Path:
        return self.logs_dir / "kafka.out"

    def server_properties(self, *, secure: bool = True) -> dict[str, str]:
        """The broker's configuration: the secure profile (docs/kafka-security.md), or with ``secure=False``
        the pre-SASL one, used only for a moment to add the admin credential to old storage."""
        h, p, c = self.host, self.port, self.controller_port
        common = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            # Static voters rather than --standalone: the voter set is then read from this file at
            # each start instead of being frozen in the metadata log, so changing ports is harmless.
            "controller.quorum.voters": self.voters,
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.data_dir),
            # Topics come from events.topics via deploy.topics; a typo must fail, not create a topic.
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            # 50 partitions by default: a fresh broker's first consumer group then waits seconds
            # for them all to load. A single local node needs few.
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Consumer groups start at once instead of waiting 3 s for more members (tests, dev).
            "group.initial.rebalance.delay.ms": "0",
        }
        if self.replication > 1:
            # A cluster: every write acknowledged with acks=all is on two brokers before the producer hears
            # so, and the loss of any one broker loses nothing and stops nothing (docs/reliability.md).
            isr = str(min(2, self.replication))
            common |= {
                "default.replication.factor": str(self.replication),
                "min.insync.replicas": isr,
                "offsets.topic.replication.factor": str(self.replication),
                "transaction.state.log.replication.factor": str(self.replication),
                "transaction.state.log.min.isr": isr,
                "share.coordinator.state.topic.replication.factor": str(self.replication),
                "share.coordinator.state.topic.min.isr": isr,
                # A broker killed and started again takes its leaderships back, so load stays spread.
                "auto.leader.rebalance.enable": "true",
                "leader.imbalance.check.interval.seconds": "10",
                # A killed broker is declared gone after 6 s rather than 9: the leaders move sooner.
                "broker.session.timeout.ms": "6000",
            }
        if not secure:
            return {
                **common,
                "listeners": f"PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
                "advertised.listeners": f"PLAINTEXT://{h}:{p}",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            }
        return {
            **common,
            **secure_listeners(
                self.host, self.port, self.controller_port, self.admin_password, self.tls_files if self.tls else None
            ),
        }

    def write_config(self, *, secure: bool = True) -> Path:
        """(Re)generate server.properties, so a port change takes effect at the next start. It holds the
        admin's password (the brokers' own logins): private to the owner."""
        self.home.mkdir(parents=True, exist_ok=True)
        lines = ["# Generated by deploy/kafka.py at each start; edits are overwritten."]
        lines += [f"{key}={value}" for key, value in self.server_properties(secure=secure).items()]
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")
        os.chmod(self.config_file, 0o600)  # a file from before the secure profile was world-readable
        return self.config_file

    def pid(self) -> int | None:
        """Pid of this home's broker if it is running."""
        pid = read_pid(self.pid_file)
        # The config path in the command line tells our broker from a reused pid or another broker.
        if pid is not None and pid_alive(pid, str(self.config_file)):
            return pid
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def status(self) -> dict[str, Any]:
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "bootstrap": self.bootstrap,
            "version": KAFKA_VERSION,
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "log": str(self.logs_dir / "server.log"),
        }

    def start(self, timeout: float = 90, *, on_progress: Progress = None) -> str:
        """Start the broker if needed and return its bootstrap address once it answers metadata.

        ``timeout`` bounds the broker's boot, not a first download of the jars.
        """
        if self.pid() is not None:
            running = self._running_bootstrap()
            if running not in (None, self.bootstrap):
                raise KafkaStartError(
                    f"The Kafka of {self.home} already runs at {running}, not {self.bootstrap}: "
                    "stop it first to change its ports"
                )
            if not self._scram_marker.exists():
                raise KafkaStartError(
                    f"The Kafka of {self.home} was started before dondoc required authentication (SASL) and "
                    "still runs without it: stop it (dondoc infra down) and start again — its data is kept "
                    "and the admin credential added"
                )
            self._wait_ready(timeout, stop_on_failure=False)
            return self.bootstrap

        started = time.monotonic()
        self.launch(timeout, on_progress=on_progress)
        self._wait_ready(timeout)
        _say(on_progress, f"Kafka ready on {self.bootstrap} in {time.monotonic() - started:.1f}s")
        return self.bootstrap

    def launch(self, timeout: float = 90, *, on_progress: Progress = None) -> None:
        """Start the broker's process without waiting for it to answer: a node of a cluster cannot answer
        before a majority of the controllers runs, so a cluster launches every node first (deploy/cluster.py)."""
        lib = ensure_jars(on_progress)
        for port in (self.port, self.controller_port):
            if port_in_use(self.host, port):
                raise KafkaStartError(
                    f"port {port} is already in use by another process; stop it or choose other "
                    "ports (DONDOC_KAFKA_PORT / DONDOC_KAFKA_CONTROLLER_PORT)"
                )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if (self.data_dir / "meta.properties").exists() and not self._scram_marker.exists():
            self._add_admin_to_old_storage(lib, timeout, on_progress)
        self.write_config()
        self._format_storage(lib, on_progress)

        _say(on_progress, f"Starting Kafka {KAFKA_VERSION} on {self.bootstrap}")
        self._launch(lib)

    def _launch(self, lib: Path) -> None:
        with self.out_file.open("ab") as out:
            # A new session keeps the broker alive after the CLI exits and out of its Ctrl-C.
            self._proc = subprocess.Popen(
                [*self._java_cmd(lib), _MAIN_CLASS, str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")

    def _wait_ready(self, timeout: float, *, stop_on_failure: bool = True) -> None:
        try:
            run_sync(wait_until_ready(self.admin_settings(), timeout, check=self._check_alive))
        except KafkaNotReadyError as err:
            if stop_on_failure:
                self.stop()
            raise KafkaStartError(f"{err}\n{self._log_tail()}") from err
        except KafkaAuthError as err:
            if stop_on_failure:
                self.stop()
            raise KafkaStartError(
                f"{err}. The broker's storage in {self.data_dir} holds another admin password than this "
                "installation's (.dondoc/kafka-secret or DONDOC_KAFKA_SECRET changed?)"
            ) from err

    def _add_admin_to_old_storage(self, lib: Path, timeout: float, on_progress: Progress) -> None:
        """Storage formatted before the secure profile has no admin credential, and SCRAM credentials live
        in the cluster's metadata: the broker runs once without authentication, on loopback only, long
        enough to add it. The data is kept."""
        _say(
            on_progress,
            f"Kafka data in {self.data_dir} predates authentication: adding the admin's SCRAM "
            "credential (the broker runs unauthenticated on 127.0.0.1 for a moment; data kept)",
        )
        from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

        self.write_config(secure=False)
        self._launch(lib)
        try:
            admin = AdminClient({"bootstrap.servers": self.bootstrap}, logger=log)
            upsert = UserScramCredentialUpsertion(
                ADMIN_PRINCIPAL, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), self.admin_password.encode()
            )
            deadline = time.monotonic() + timeout
            while True:
                self._check_alive()
                try:
                    for future in admin.alter_user_scram_credentials([upsert], request_timeout=10).values():
                        future.result()
                    break
                except Exception as err:  # the broker may still be booting
                    if time.monotonic() >= deadline:
                        raise KafkaStartError(f"Could not add the admin credential to old storage: {err}") from err
                    time.sleep(0.5)
        finally:
            self.stop()
        self._scram_marker.write_text("added to storage formatted before SASL\n")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (a clean shutdown flushes the logs), then SIGKILL after ``timeout``; idempotent."""
        pid = self.pid()
        if pid is not None:
            log.info("Stopping Kafka (pid %s)", pid)
            self._signal(pid, signal.SIGTERM)
            if not wait_until(lambda: not pid_alive(pid), timeout):
                log.warning("Kafka (pid %s) ignored SIGTERM for %.0fs; killing it", pid, timeout)
                self._signal(pid, signal.SIGKILL)
                if not wait_until(lambda: not pid_alive(pid), 10):
                    raise KafkaStartError(f"Kafka (pid {pid}) survived SIGKILL")
        if self._proc is not None:
            self._proc.poll()  # reap it, else Popen warns that the child is still running
            self._proc = None
        self.pid_file.unlink(missing_ok=True)

    # -- internals ----------------------------------------------------------------------------

    def _java_cmd(self, lib: Path) -> list[str]:
        return [
            _java(),
            *HEAP_OPTS,
            *JVM_PERFORMANCE_OPTS,
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{lib}/*",  # the JVM expands the glob itself; no shell is involved
        ]

    def _running_bootstrap(self) -> str | None:
        """The address in the config the running broker was started with (it is rewritten only at start)."""
        try:
            for line in self.config_file.read_text().splitlines():
                if line.startswith("advertised.listeners="):
                    return line.split("://", 1)[1].split(",", 1)[0]
        except (FileNotFoundError, IndexError):
            pass
        return None

    def _cluster_id(self) -> str:
        try:
            return self.cluster_id_file.read_text().strip()
        except FileNotFoundError:
            cid = new_cluster_id()
            self.cluster_id_file.write_text(cid + "\n")
            return cid

    def _format_storage(self, lib: Path, on_progress: Progress) -> None:
        if (self.data_dir / "meta.properties").exists():
            return  # formatted already; skipping saves a JVM start
        _say(on_progress, f"Formatting Kafka storage in {self.data_dir}")
        cmd = [
            *self._java_cmd(lib),
            _STORAGE_TOOL,
            "format",
            "-t", self._cluster_id(),
            "-c", str(self.config_file),
            "-g",  # a formatted directory is not an error (e.g. meta.properties lost elsewhere)
            # SCRAM credentials live in the metadata log: the admin's must be there before anyone can log in.
            "--add-scram", f"SCRAM-SHA-512=[name={ADMIN_PRINCIPAL},password={self.admin_password}]",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaStartError(
                f"Formatting Kafka storage failed (exit code {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}".replace(self.admin_password, "***").strip()
            )
        self._scram_marker.write_text("formatted with the admin's SCRAM credential\n")

    def _check_alive(self) -> None:
        """Abort the wait for readiness as soon as the broker process has died.

        A broker this object started is asked through its Popen (definitive); only one started by
        an earlier command is looked up by pid file and /proc, which once misjudged a live broker
        while the machine was loaded."""
        alive = self._proc.poll() is None if self._proc is not None else self.pid() is not None
        if not alive:
            self.pid_file.unlink(missing_ok=True)
            raise KafkaStartError(f"Kafka exited while starting.\n{self._log_tail()}")

    def _log_tail(self) -> str:
        text = tail(self.out_file) or tail(self.logs_dir / "server.log")
        return f"--- last lines of {self.out_file} ---\n{text}" if text else f"(no output in {self.out_file})"

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
