"""Failures a cluster has, under load, on the namespaces' addresses only: the partition leader killed,
the active controller's node cut off from the other brokers, a DataNode killed, the HadoopConsumer's host cut off ZooKeeper
past its session. The HadoopConsumer runs on a worker host of its own the whole time; afterwards
HDFS holds every produced record exactly once, and each recovery time is printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import requests
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from online_stats import wait_for
from produced_and_landed import end_offsets, landed, produce

from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_topics import ensure_topic

PARTITIONS = 3
# the HadoopConsumer's loop of batches, as a scheduler runs them: a failed batch is printed and the next one runs
CONSUMER = Path(__file__).parents[1] / "hadoop_consumer" / "crashing_consumer.py"


@pytest.fixture
def topic(cluster_kafka, unique_name) -> str:
    ensure_topic(AdminClient(cluster_kafka), unique_name, PARTITIONS, replication=3)
    return unique_name


class RunningConsumer:
    """A HadoopConsumer loop on a worker host whose output is read as it comes, so a test can wait for
    what it says."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def said(self) -> str:
        return "".join(self.lines)

    def stop(self, *, with_stacks: bool = False) -> str:
        """Kill it and return all it said; ``with_stacks``: with every thread's stack where it was
        (SIGABRT, which Python's faulthandler prints)."""
        if self.process.poll() is None and with_stacks:
            self.process.send_signal(signal.SIGABRT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        return self.said()


@pytest.fixture
def consumers(cluster, unique_name):
    """Starts HadoopConsumer loops on worker hosts; all are killed after the test."""
    started: list[RunningConsumer] = []

    def start(host, topic: str, *, max_records: int = 2000, session_seconds: float = 10,
              lease_wait: float = 30) -> RunningConsumer:
        env = {**os.environ, "PYTHONPATH": str(cluster.config.stack.repo / "plugins"), "KEEP_GOING": "1",
               "ZK_SESSION_SECONDS": str(session_seconds), "LEASE_WAIT": str(lease_wait),
               "PYTHONFAULTHANDLER": "1"}
        argv = [sys.executable, str(CONSUMER), cluster.kafka_bootstrap, cluster.webhdfs_url, cluster.zookeeper_hosts,
                f"/tests/{unique_name}/logs", topic, str(PARTITIONS), str(max_records)]
        process = subprocess.Popen(host.argv(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        started.append(RunningConsumer(process))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def partitions_of(admin: AdminClient, topic: str) -> dict:
    return admin.list_topics(topic, timeout=10).topics[topic].partitions


def partitions_seen_from(node, topic: str) -> dict[int, tuple[int, list[int]]]:
    """Each partition's (leader, in-sync replicas) as a client on ``node``'s host sees them. The cut
    node keeps answering with the metadata it had, and a client on the box would ask it too (a
    client picks any broker for metadata); from a host of the majority it is out of reach."""
    probe = ("import json, sys; from confluent_kafka.admin import AdminClient; "
             f"parts = AdminClient({{'bootstrap.servers': {node.bootstrap!r}}}).list_topics({topic!r}, timeout=10)"
             f".topics[{topic!r}].partitions; "
             "print(json.dumps({p: [m.leader, m.isrs] for p, m in parts.items()}))")
    done = subprocess.run(node.host.argv([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return {}
    return {int(p): (leader, isrs) for p, (leader, isrs) in json.loads(done.stdout).items()}


def committed(cluster_hdfs, root: str, topic: str) -> list[int | None]:
    """Each partition's offset in offset.dat; None where there is none yet, or where WebHDFS sent the
    read to a DataNode killed a moment ago (the NameNode counts it stale after 3 s)."""
    store = OffsetStore(cluster_hdfs, root)
    offsets = []
    for partition in range(PARTITIONS):
        try:
            offsets.append(getattr(store.read(topic, partition), "offset", None))
        except requests.ConnectionError:
            offsets.append(None)
    return offsets


def landed_so_far(cluster_hdfs, root: str, topic: str) -> int:
    """The records committed over all partitions (offset.dat)."""
    return sum(offset or 0 for offset in committed(cluster_hdfs, root, topic))


def wait_until_landed(cluster_hdfs, root: str, cluster_kafka: dict, topic: str, timeout: float) -> None:
    def ends_or_none() -> list[int] | None:
        try:
            return end_offsets(cluster_kafka, topic, PARTITIONS)
        except KafkaException:  # asked a broker whose metadata is still behind (just healed or restarted)
            return None

    ends = wait_for(ends_or_none, 60, f"the end offsets of {topic}")
    wait_for(lambda: committed(cluster_hdfs, root, topic) == ends, timeout,
             f"the consumer's offsets reaching the end of {topic} {ends}")


def produce_in_background(cluster_kafka: dict, topic: str, count: int) -> tuple[threading.Thread, Counter]:
    sent = Counter()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            sent.update(produce(cluster_kafka, topic, count, partitions=PARTITIONS, bad_ratio=0.02))
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            failed.append(err)

    thread = threading.Thread(target=run, name=f"produce {topic}")
    thread.start()
    thread.failed = failed
    return thread, sent


def join(thread: threading.Thread) -> None:
    thread.join(600)
    assert not thread.is_alive(), "the producer never finished"
    assert not thread.failed, thread.failed


def test_the_partition_leader_killed_under_load(cluster, cluster_kafka, cluster_hdfs, topic, consumers, recovery,
                                                unique_name):
    """kill -9 of partition 0's leader while records flow in (acks from 2 of 3 replicas) and the
    consumer on worker1 lands them: another replica leads within seconds, nothing acknowledged is
    lost, nothing lands twice."""
    admin = AdminClient(cluster_kafka)
    root = f"/tests/{unique_name}/logs"
    running = consumers(cluster.workers[0], topic)
    production, sent = produce_in_background(cluster_kafka, topic, 60_000)
    wait_for(lambda: sum(end_offsets(cluster_kafka, topic, PARTITIONS)) > 15_000, 180, "a quarter of the records in Kafka")

    leader = partitions_of(admin, topic)[0].leader
    killed = time.monotonic()
    cluster.kafka_node(leader).kill()
    new_leader = wait_for(lambda: partitions_of(admin, topic)[0].leader not in (-1, leader)
                          and partitions_of(admin, topic)[0].leader, 60, "a new leader of partition 0")
    recovery(f"Kafka: broker {leader} (leader of partition 0) killed; broker {new_leader} leads it after "
             f"{time.monotonic() - killed:.1f}s")
    join(production)

    restarted = time.monotonic()
    cluster.up()
    wait_for(lambda: all(len(p.isrs) == 3 for p in partitions_of(admin, topic).values()), 120,
             "every replica back in its in-sync set")
    recovery(f"Kafka: broker {leader} restarted, back in every in-sync set of {topic} after "
             f"{time.monotonic() - restarted:.1f}s")

    wait_until_landed(cluster_hdfs, root, cluster_kafka, topic, 300)
    running.stop()
    assert sum(sent.values()) == 60_000
    assert landed(cluster_hdfs, root, topic) == sent


def test_the_active_controller_cut_off_from_the_other_brokers_and_healed(cluster, cluster_kafka, cluster_hdfs, topic,
                                                                         consumers, recovery, unique_name):
    """The node that is the active KRaft controller loses its links to the other two (the quorum and
    the replication) while records flow in: the other two elect a controller, fence its broker and
    lead its partitions; once healed it catches up and rejoins every in-sync set. The clients still
    reach all three, as when only the brokers' network splits."""
    root = f"/tests/{unique_name}/logs"
    running = consumers(cluster.workers[0], topic)
    production, sent = produce_in_background(cluster_kafka, topic, 60_000)
    wait_for(lambda: sum(end_offsets(cluster_kafka, topic, PARTITIONS)) > 15_000, 180, "a quarter of the records in Kafka")

    cut = wait_for(cluster.kafka_quorum_leader, 60, "an active controller")
    node = cluster.kafka_node(cut)
    others = [other for other in cluster.kafka_nodes if other is not node]
    node.host.cut_off(other.host for other in others)
    try:
        parted = time.monotonic()
        elected = wait_for(lambda: (leader := cluster.kafka_quorum_leader(others)) not in (None, cut) and leader, 90,
                           "a new active controller among the other two")
        recovery(f"Kafka: node {cut} (active controller) cut off from the other brokers; node {elected} "
                 f"controls after {time.monotonic() - parted:.1f}s")
        wait_for(lambda: all(leader != cut and cut not in isrs
                             for leader, isrs in partitions_seen_from(others[0], topic).values()),
                 90, f"broker {cut} out of every in-sync set and leading nothing")
        recovery(f"Kafka: the other brokers lead broker {cut}'s partitions and dropped it from the in-sync sets "
                 f"{time.monotonic() - parted:.1f}s after the cut")
    finally:
        node.host.heal()
    healed = time.monotonic()
    wait_for(lambda: (seen := partitions_seen_from(others[0], topic)) and all(len(isrs) == 3 for _, isrs in seen.values()),
             120, f"broker {cut} back in every in-sync set")
    recovery(f"Kafka: link healed; broker {cut} back in every in-sync set after {time.monotonic() - healed:.1f}s")
    join(production)

    wait_until_landed(cluster_hdfs, root, cluster_kafka, topic, 300)
    running.stop()
    assert landed(cluster_hdfs, root, topic) == sent


def under_replicated_blocks(cluster) -> int:
    url = f"{cluster.webhdfs_url}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystem"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["beans"][0]["UnderReplicatedBlocks"]


def test_a_datanode_killed_while_the_consumer_writes(cluster, cluster_kafka, cluster_hdfs, topic, consumers,
                                                     recovery, unique_name):
    """kill -9 of a DataNode while batches are written: the writes go on with the other two, and once
    it is back every block has its three replicas again."""
    root = f"/tests/{unique_name}/logs"
    running = consumers(cluster.workers[0], topic, max_records=1000)
    production, sent = produce_in_background(cluster_kafka, topic, 40_000)
    wait_for(lambda: landed_so_far(cluster_hdfs, root, topic) > 5_000, 180,
             "the consumer landing its first batches")

    victim = cluster.datanodes[0]
    victim.kill()
    killed = time.monotonic()
    before = landed_so_far(cluster_hdfs, root, topic)
    wait_for(lambda: landed_so_far(cluster_hdfs, root, topic) > before + 5_000, 180,
             f"batches landing with {victim.host.name} dead")
    recovery(f"HDFS: {victim.host.name} killed; batches land on the other two after {time.monotonic() - killed:.1f}s")
    join(production)

    restarted = time.monotonic()
    cluster.up()
    wait_for(lambda: under_replicated_blocks(cluster) == 0, 180, "every block with three replicas")
    recovery(f"HDFS: {victim.host.name} restarted; no block under-replicated after {time.monotonic() - restarted:.1f}s")

    wait_until_landed(cluster_hdfs, root, cluster_kafka, topic, 300)
    running.stop()
    assert landed(cluster_hdfs, root, topic) == sent


def test_the_consumers_host_cut_off_zookeeper_past_its_session(cluster, cluster_kafka, cluster_hdfs, topic,
                                                               consumers, recovery, unique_name):
    """The fencing case, for real: worker1 loses ZooKeeper (only ZooKeeper: it still reaches Kafka and
    HDFS) for longer than its session while it runs batches. worker2 takes its partitions over and
    goes on; worker1 stands down instead of writing behind worker2's back, and after the link heals
    both go on. Every record lands once."""
    root = f"/tests/{unique_name}/logs"
    sent = produce(cluster_kafka, topic, 150_000, partitions=PARTITIONS, bad_ratio=0.02)
    session = 4.0
    # worker1's batches are long (seconds), so the cut mostly finds it inside one, holding a lease
    # that expires before it commits; a cut between two of them meets its next one
    first = consumers(cluster.workers[0], topic, max_records=10_000, session_seconds=session, lease_wait=0.2)
    second = consumers(cluster.workers[1], topic, max_records=300, session_seconds=session, lease_wait=0.2)
    wait_for(lambda: landed_so_far(cluster_hdfs, root, topic) > 3_000, 180,
             "both consumers under way")

    worker1 = cluster.workers[0]
    worker1.cut_off(member.host for member in cluster.zookeepers)
    cut = time.monotonic()
    said_before = len(first.lines)
    try:
        wait_for(lambda: time.monotonic() - cut > 3 * session, 4 * session + 5, "the session's expiry")
        at_expiry = landed_so_far(cluster_hdfs, root, topic)
        try:
            wait_for(lambda: landed_so_far(cluster_hdfs, root, topic) > at_expiry + 2_000,
                     120, "worker2 landing batches while worker1 is cut off")
            # worker1 says so while it is cut off: the batch it was in stands down (lease or fence) or
            # fails, or its next one does; a ZooKeeper call waiting on the lost link gives up once it
            # has been suspended for the session's timeout (kazoo's defaults waited for the whole
            # cut, in the lease's release or the lock's contenders, saying nothing)
            wait_for(lambda: any("stood down" in line or "batch failed" in line
                                 for line in first.lines[said_before:]),
                     60, "worker1 saying it stood down or its batch failed")
        except AssertionError as err:
            raise AssertionError(f"{err}\nworker1 said:\n{first.stop(with_stacks=True)[-12000:]}\nworker2 said:\n{second.stop()[-4000:]}")
        recovery(f"HadoopConsumer: worker1 cut off ZooKeeper; worker2 landed 2,000 more records "
                 f"{time.monotonic() - cut:.1f}s after the cut")
    finally:
        worker1.heal()

    wait_until_landed(cluster_hdfs, root, cluster_kafka, topic, 300)
    first_said, second_said = first.stop(), second.stop()
    assert landed(cluster_hdfs, root, topic) == sent
    assert "Traceback" not in second_said, second_said[-3000:]
