"""A local Kafka cluster of several KRaft brokers (each broker and controller in one JVM) on loopback.

What the single node cannot show: a broker lost under load while producers write with ``acks=all`` and
topics keep three copies with ``min.insync.replicas=2`` (docs/observability.md). The fault drills find the
leader of a partition, kill it and start it again with the methods here:

    cluster = stack.kafka_cluster()            # or KafkaCluster(home, ports, admin_password=…)
    broker = await cluster.leader_of(topic, 0)  # node id (1..n) leading that partition
    cluster.stop_broker(broker, signal.SIGKILL) # or SIGTERM: a clean shutdown
    cluster.start_broker(broker)               # back, and in the cluster's metadata again

Each node is a ``deploy.kafka.KafkaNode`` under ``home/broker-<id>``, with the secure profile of the single
node (SASL SCRAM, the admin alone super-user, ACLs), sharing one cluster id.
"""

from __future__ import annotations

import os
import signal as signals
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploy._aio import run_sync
from deploy._proc import pid_alive, wait_until
from deploy.errors import KafkaStartError
from deploy.kafka import KafkaNode, Progress, _say, new_cluster_id, wait_until_ready
from services.runtime.kafka_config import client_options
from services.runtime.settings import Settings

REPLICATION = 3


class KafkaCluster:
    """``len(ports)`` brokers, node ids 1..n; ``ports[i]`` is broker i+1's (client port, controller port)."""

    def __init__(self, home: Path, ports: Sequence[tuple[int, int]], *, admin_password: str, tls: bool = False) -> None:
        if len(ports) < 3:
            raise KafkaStartError("a cluster needs at least 3 brokers: with fewer, losing one stops the controllers")
        self.home = Path(home).resolve()
        self.admin_password = admin_password
        voters = ",".join(f"{n}@127.0.0.1:{controller}" for n, (_, controller) in enumerate(ports, 1))
        self.nodes = {
            n: KafkaNode(
                self.home / f"broker-{n}",
                port,
                controller,
                admin_password=admin_password,
                tls=tls,
                node_id=n,
                voters=voters,
                replication=min(REPLICATION, len(ports)),
            )
            for n, (port, controller) in enumerate(ports, 1)
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def admin_settings(self) -> Settings:
        first = next(iter(self.nodes.values())).admin_settings()
        return first.model_copy(update={"kafka_bootstrap": self.bootstrap})

    def is_running(self) -> bool:
        return any(node.is_running() for node in self.nodes.values())

    def status(self) -> dict[str, Any]:
        return {
            "running": self.is_running(),
            "bootstrap": self.bootstrap,
            "brokers": {n: node.status() for n, node in self.nodes.items()},
        }

    # -- whole cluster --------------------------------------------------------------------------

    def start(self, timeout: float = 120, *, on_progress: Progress = None) -> str:
        """Start every broker that is not running, then wait until the metadata lists all of them."""
        self.home.mkdir(parents=True, exist_ok=True)
        cluster_id = self._cluster_id()
        for node in self.nodes.values():
            node.home.mkdir(parents=True, exist_ok=True)
            node.cluster_id_file.write_text(cluster_id + "\n")
        started = time.monotonic()
        for node in self.nodes.values():
            if not node.is_running():
                node.launch(timeout, on_progress=on_progress)
        self.wait_for_brokers(len(self.nodes), timeout)
        _say(on_progress, f"Kafka cluster of {len(self.nodes)} ready on {self.bootstrap} in "
             f"{time.monotonic() - started:.1f}s")  # fmt: skip
        return self.bootstrap

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to every broker at once, then wait for each: stopped one by one, the last ones would wait out
        a controlled shutdown that the lost controller majority can no longer grant."""
        for node in self.nodes.values():
            if (pid := node.pid()) is not None:
                os.kill(pid, signals.SIGTERM)
        for node in self.nodes.values():
            node.stop(timeout)

    def wait_for_brokers(self, count: int, timeout: float = 90) -> None:
        """Until the cluster's metadata lists ``count`` brokers (a restarted one has registered again)."""
        deadline = time.monotonic() + timeout
        run_sync(wait_until_ready(self.admin_settings(), timeout, check=self._check_some_alive))
        while (listed := run_sync(_broker_ids(self.admin_settings()))) is None or len(listed) < count:
            if time.monotonic() >= deadline:
                raise KafkaStartError(
                    f"the Kafka cluster lists brokers {listed} after {timeout:.0f}s, {count} expected"
                )
            time.sleep(0.2)

    # -- one broker, for the drills -------------------------------------------------------------

    async def leader_of(self, topic: str, partition: int = 0) -> int:
        """Node id of the broker leading ``topic``'s ``partition`` now (-1 while none does)."""
        return int((await self._partition(topic, partition)).leader)

    async def in_sync_replicas(self, topic: str, partition: int = 0) -> list[int]:
        """Node ids of the partition's in-sync replicas."""
        return sorted((await self._partition(topic, partition)).isr)

    async def _partition(self, topic: str, partition: int) -> Any:
        """The partition's metadata (PartitionMetadata: leader, replicas, isr) from the first broker that
        answers: with one broker dead, a request sent to it must not fail the question."""
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(**client_options(self.admin_settings()), request_timeout_ms=10_000)
        try:
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()  # asks one broker after another until one answers
            found = metadata._partitions.get(topic, {}).get(partition)  # aiokafka has no public accessor for it
        finally:
            await client.close()
        if found is None:
            raise KeyError(f"{topic} has no partition {partition}")
        return found

    def broker_pid(self, node_id: int) -> int | None:
        return self.nodes[node_id].pid()

    def stop_broker(self, node_id: int, signal: int = signals.SIGKILL, timeout: float = 30) -> None:
        """Send ``signal`` to broker ``node_id`` (SIGKILL: a crash; SIGTERM: a clean shutdown) and return once its
        process is gone. A broker that is not running is left as it is."""
        node = self.nodes[node_id]
        pid = node.pid()
        if pid is None:
            return
        os.kill(pid, signal)
        if not wait_until(lambda: not pid_alive(pid), timeout):
            raise KafkaStartError(f"Kafka broker {node_id} (pid {pid}) still runs {timeout:.0f}s after signal {signal}")
        node.pid_file.unlink(missing_ok=True)

    def start_broker(self, node_id: int, timeout: float = 90) -> None:
        """Start broker ``node_id`` again (its data kept) and return once the cluster lists it."""
        self.nodes[node_id].launch(timeout)
        self.wait_for_brokers(len(self.nodes), timeout)  # all listed: this one too

    # -- internals ------------------------------------------------------------------------------

    def _cluster_id(self) -> str:
        path = self.home / "cluster.id"
        if not path.exists():
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def _check_some_alive(self) -> None:
        if not any(node.is_running() for node in self.nodes.values()):
            raise KafkaStartError(f"no broker of the cluster in {self.home} runs; see its brokers' logs/kafka.out")


async def _broker_ids(settings: Settings) -> list[int] | None:
    """Node ids in the cluster's metadata, or None when no broker answers."""
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(**client_options(settings), request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return sorted(b.nodeId for b in client.cluster.brokers())
    except Exception:  # a broker down or booting: the caller polls
        return None
    finally:
        await client.close()


def cluster_ports(base_port: int, brokers: int) -> list[tuple[int, int]]:
    """Broker n's client and controller ports: ``base``, ``base+1`` for the first, two more for each next."""
    return [(base_port + 2 * i, base_port + 2 * i + 1) for i in range(brokers)]
