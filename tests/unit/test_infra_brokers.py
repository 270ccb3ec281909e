"""`dondoc infra up --brokers N` refuses a count that cannot make a cluster, before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import stack
from deploy.cluster import KafkaCluster, cluster_ports
from deploy.errors import InfraError


@pytest.mark.parametrize("brokers", [0, 2])
def test_a_broker_count_that_is_neither_one_nor_a_cluster_is_refused_in_both_languages(brokers: int) -> None:
    with pytest.raises(InfraError, match=f"--brokers {brokers}: expected 1 .* at least 3") as refused:
        stack.check_brokers(brokers)
    assert "cần 1 broker, hoặc từ 3 broker trở lên" in str(refused.value)


def test_a_refused_count_starts_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    monkeypatch.setattr(stack, "local_postgres", lambda: started.append("postgres"))
    with pytest.raises(InfraError):
        stack.infra_up(brokers=2)
    assert started == []


def test_each_broker_of_a_cluster_has_its_own_ports_and_all_are_voters(tmp_path: Path) -> None:
    assert cluster_ports(23092, 3) == [(23092, 23093), (23094, 23095), (23096, 23097)]
    cluster = KafkaCluster(tmp_path, cluster_ports(23092, 3), admin_password="x")
    assert cluster.bootstrap == "127.0.0.1:23092,127.0.0.1:23094,127.0.0.1:23096"
    props = cluster.nodes[2].server_properties()
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:23093,2@127.0.0.1:23095,3@127.0.0.1:23097"
    assert props["min.insync.replicas"] == "2" and props["offsets.topic.replication.factor"] == "3"


def test_fewer_than_three_brokers_make_no_cluster(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="at least 3 brokers"):
        KafkaCluster(tmp_path, cluster_ports(23092, 2), admin_password="x")
