"""`cluster up`: every process on a host of its own, the ensembles formed across the hosts, HDFS
replicating each block on three DataNodes, and a process that died started again alone."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient
from online_stats import wait_for


def test_each_process_runs_on_its_own_host_and_the_ensembles_span_them(cluster, cluster_hdfs, unique_name):
    hosts_used = Counter(service.host.name for service in cluster.services)
    # one daemon per host, but for Airflow's host (its four components and its mail catcher) and the
    # front ends (an L1 agent and the sshd Airflow reads the host's files through)
    frontends = {host.name for host in cluster.frontends}
    assert {host for host, services in hosts_used.items() if services > 1} == {cluster.airflow_host.name, *frontends}
    assert hosts_used[cluster.airflow_host.name] == len(cluster.airflow) + 1
    assert {host: hosts_used[host] for host in frontends} == {host: 2 for host in frontends}
    for service in cluster.services:
        assert service.process.pid() in service.host.pids(), service.name

    modes = sorted(member.health().detail for member in cluster.zookeepers)
    assert modes == ["mode follower", "mode follower", "mode leader"]
    zk = KazooClient(hosts=cluster.zookeeper_hosts, timeout=10)
    zk.start(timeout=30)
    try:
        zk.create(f"/tests/{unique_name}", b"across the ensemble", makepath=True)
        for member in cluster.zookeepers:  # each member serves what the quorum wrote
            reader = KazooClient(hosts=f"{member.host.address}:2181", timeout=10)
            reader.start(timeout=30)
            reader.sync(f"/tests/{unique_name}")
            assert reader.get(f"/tests/{unique_name}")[0] == b"across the ensemble"
            reader.stop()
    finally:
        zk.stop()

    brokers = AdminClient({"bootstrap.servers": cluster.kafka_bootstrap}).list_topics(timeout=15).brokers
    assert {broker_id: broker.host for broker_id, broker in brokers.items()} == {
        node.node_id: node.host.address for node in cluster.kafka_nodes}

    cluster_hdfs.write(f"/tests/{unique_name}/three", data=b"x" * 100_000)
    url = f"{cluster.webhdfs_url}/webhdfs/v1/tests/{unique_name}/three?op=GETFILEBLOCKLOCATIONS&user.name=root"

    def replicas() -> list[list[str]]:
        with urllib.request.urlopen(url, timeout=10) as response:
            return [sorted(block["hosts"]) for block in json.load(response)["BlockLocations"]["BlockLocation"]]

    # a write pipeline that met a DataNode just restarted goes on with two, and the NameNode copies the
    # third replica afterwards
    every_datanode = [sorted(node.host.address for node in cluster.datanodes)]
    wait_for(lambda: replicas() == every_datanode, 90, f"three replicas of the block (now {replicas()})")


def test_up_starts_again_only_what_died(cluster):
    pids = {service.name: service.process.pid() for service in cluster.services}
    dead = [cluster.zookeepers[1], cluster.datanodes[1], cluster.kafka_nodes[2]]
    for service in dead:
        service.kill()
    reported = []
    cluster.report = reported.append
    try:
        cluster.up()
    finally:
        cluster.report = print
    assert sorted(line for line in reported if line.startswith("starting")) == sorted(
        f"starting {service.name} ({service.host.address})" for service in dead)
    for service in cluster.services:
        assert service.health().ok, (service.name, service.health())
        if service in dead:
            assert service.process.pid() not in (None, pids[service.name])
        else:
            assert service.process.pid() == pids[service.name], service.name
