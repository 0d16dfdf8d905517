"""The security_stats topology on the cluster's Storm: Nimbus on a host of its own, two Supervisor
hosts that run the topology's Python components from an environment they fetched (the submitter's
virtualenv is an empty folder to them), the result store on the postgres host, Kafka at replication 3.
The store's counts equal the counts computed here from the produced lines, also after every process
of the Supervisor host running the topology is killed under load and Nimbus moves it to the other
host. Each recovery time is printed."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from cluster_hosts import component_processes
from log_times import hour_start_ago
from online_stats import TopologyRun, wait_for

from logstream.kafka_topics import ensure_topic
from logstream.storm.deployment import deploy

PARTITIONS = 3
# rounds take one hour each from 20 days back (see test_security_stats.py): far from the StartTime bounds
BASE = hour_start_ago(480)
LAUNCH_WINDOW_SECS = 60


@pytest.fixture(scope="module")
def topology(cluster):
    name = f"t_cluster_stats_{random.randrange(16**8):08x}"
    ensure_topic(AdminClient({"bootstrap.servers": cluster.kafka_bootstrap}), name, PARTITIONS, replication=3)
    nimbus = cluster.nimbus.nimbus()
    deploy(nimbus=nimbus, name=name, topic=name, kafka_bootstrap=cluster.kafka_bootstrap,
           results_dsn=cluster.postgres.dsn("logstream"), jar_dir=cluster.config.home / "storm-jars",
           overrides={"flush_records": 20_000}, command=cluster.streamparse_run)
    run = TopologyRun(cluster.kafka_bootstrap, cluster.postgres.dsn("logstream"), name, base=BASE,
                      partitions=PARTITIONS)
    yield run
    nimbus.kill(name, wait_secs=0)
    wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone")


def test_the_topology_counts_exactly_on_the_supervisor_hosts_from_their_own_environment(cluster, topology):
    topology.produce_round(20_000)
    topology.check_exact(timeout=600)
    supervisors = {s.host.address: s for s in cluster.supervisors}
    hosts = cluster.nimbus.nimbus().executor_hosts(topology.name)
    assert hosts and set(hosts) <= set(supervisors), hosts
    components = [pid for address in hosts for pid in component_processes(supervisors[address].host,
                                                                           cluster.topology_env_path)]
    assert len(components) >= 3, "a spout and two bolts expected, running the shipped environment"
    submitter_env = sys.prefix
    for pid in components:
        # what the component sees through its own mount namespace: its host's environment at the
        # shared path, and nothing where the submitter's virtualenv is
        assert Path(f"/proc/{pid}/root{cluster.topology_env_path}/bin/python").exists()
        assert os.listdir(f"/proc/{pid}/root{submitter_env}") == [], f"pid {pid} sees the submitter's virtualenv"
    # the box itself has no environment at that path: the hosts' copies are their own
    assert not (cluster.topology_env_path / "bin").exists()


def test_killing_every_process_of_the_supervisor_host_running_the_topology(cluster, topology, recovery):
    nimbus = cluster.nimbus.nimbus()
    topology.produce_round(5_000)
    topology.check_exact(timeout=600)
    (running_on,) = nimbus.executor_hosts(topology.name)
    victim = next(s for s in cluster.supervisors if s.host.address == running_on)
    other = next(s for s in cluster.supervisors if s is not victim)
    # past Nimbus's launch window (nimbus.task.launch.secs in include/cluster/storm/storm.yaml), in which
    # executors count as alive without heartbeats: from then on a lost host is noticed by its silence
    wait_for(lambda: nimbus.health(topology.name).uptime_secs > LAUNCH_WINDOW_SECS, 120,
             "the topology past its launch window")

    stop = threading.Event()
    failures: list[BaseException] = []

    def load() -> None:
        try:
            for _ in range(30):  # bounded: at most 30 rounds, one every ~2 s
                if stop.is_set():
                    return
                topology.produce_round(3_000)
                stop.wait(2)
        except BaseException as err:  # noqa: BLE001 (reported by the test below)
            failures.append(err)

    producer = threading.Thread(target=load, daemon=True)
    producer.start()
    try:
        wait_for(lambda: topology.round >= 4, 120, "load running")
        killed_at = time.monotonic()
        killed = victim.host.kill_all()
        wait_for(lambda: set(nimbus.executor_hosts(topology.name)) == {other.host.address}, 300,
                 f"the topology reassigned to {other.host.name}")
        reassigned = time.monotonic() - killed_at
        wait_for(lambda: component_processes(other.host, cluster.topology_env_path), 300,
                 f"the topology's components running on {other.host.name}")
        wait_for(lambda: topology.round >= 12, 300, "load going on after the kill")
    finally:
        stop.set()
        producer.join(timeout=120)
    assert not failures, failures
    topology.check_exact(timeout=600)
    caught_up = time.monotonic() - killed_at
    recovery(f"{victim.host.name}: {killed} processes killed (its Supervisor and the topology's worker); Nimbus "
             f"reassigned the topology to {other.host.name} after {reassigned:.1f}s, counts exact "
             f"({sum(topology.expected.end_offsets.values()):,} records) {caught_up:.1f}s after the kill")
    cluster.up()  # the host's Supervisor back, as its process supervisor would after a reboot
    assert victim.health().ok
