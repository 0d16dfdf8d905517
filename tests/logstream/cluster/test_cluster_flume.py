"""A line's journey across the cluster's hosts: L1 agents on the front-end hosts, L2 agents on the
collector hosts, each in its own network namespace, into the cluster's Kafka (replication 3); the
HadoopConsumer into the cluster's HDFS, Hive's reports on the Thrift server's host, and the
security_stats topology on the Supervisor hosts into the postgres host. A collector host dies whole
(every process killed) under load: the L1s fail over to the other one across the network, the dead
host's file channel delivers after the repair, and HDFS, Hive and the online counts hold every line
once (the copies dropped by their line ids)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import replace

import pytest

from flume_hosts import HOSTS, HostFiles, cluster_tiers, lose_an_l1s_channel, merged_spans
from landed_logs import hive_reports
from log_times import hour_name, previous_utc_midnight
from online_stats import PANE, ResultReader, wait_for
from produced_and_landed import drain, end_offsets, landed, landed_line_ids, once_each, quarantine_reasons
from logstream.flume.gap_refill import find_and_refill
from logstream.flume.host_files import LocalHostFiles, SshHostFiles
from logstream.flume.line_gaps import scan_host_files
from logstream.flume.metrics import AgentUnreachable, read_metrics
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.storm.deployment import deploy


@pytest.fixture
def tiers(cluster):
    started = cluster_tiers(cluster, f"t_cflume_{uuid.uuid4().hex[:8]}", slot=0, batch_size=500)
    started.prepare_hosts()
    started.ensure_topics(replication=3)
    started.deploy()
    started.wait_answering()
    yield started
    started.stop()
    # a collector host killed whole took the cluster's own agent on it down too: started again, as
    # an operator's `cluster up` does (only what is down), for the tests after this one
    cluster.up()
    assert [service.name for service in cluster.services if not service.is_running()] == []


def lines(host: str, start: int, count: int, base: int) -> list[bytes]:
    """Valid entries, each line of the test different (the host's own second octet, ``i`` after it)."""
    octet = 1 + HOSTS.index(host.rsplit("_", 1)[1])
    return [f"10.{octet}.{i // 250 % 250}.{i % 250},{i % 13},{base + i},300".encode() for i in range(start, start + count)]


def drained(tiers, agents: list[str]) -> bool:
    """Every one of ``agents`` answers with an empty channel."""
    for name in agents:
        try:
            if read_metrics(name, tiers.metrics_url(name)).total("CHANNEL", "ChannelSize") != 0:
                return False
        except AgentUnreachable:
            return False
    return True


def accepted(tiers, agents: list[str]) -> int:
    """The fewest lines any of ``agents`` has taken from its host's files (0 if one does not answer)."""
    try:
        return min(read_metrics(name, tiers.metrics_url(name)).total("SOURCE", "EventAcceptedCount") for name in agents)
    except AgentUnreachable:
        return 0


def test_a_collector_host_dies_under_load_and_every_line_lands_once(cluster, cluster_hdfs, cluster_hive, tiers,
                                                                    recovery):
    base = previous_utc_midnight() - 3600  # StartTimes the consumer finds plausible, whatever the date
    l1s = [agent for agent in tiers.agents if agent.tier == "l1"]
    primary = tiers.pipeline.flume.l2_agents[0]
    hosts = [HostFiles(host=agent.name, log_dir=agent.log_dir) for agent in l1s]
    for agent in tiers.agents:  # each agent runs on its own host
        assert tiers.process(agent.name).pid() in tiers.agent_hosts[agent.name].pids(), agent.name

    for host in hosts:
        host.append("app.log", lines(host.host, 0, 5_000, base))
    wait_for(lambda: read_metrics(primary, tiers.metrics_url(primary)).total("SINK", "EventDrainSuccessCount") > 0,
             300, f"{primary} delivering to Kafka")

    collector = tiers.agent_hosts[primary]
    killed = collector.kill_all()
    died = time.monotonic()
    assert killed >= 1 and not tiers.process(primary).is_running()
    for host in hosts:
        host.append("app.log", lines(host.host, 5_000, 5_000, base))
    wait_for(lambda: accepted(tiers, [agent.name for agent in l1s]) >= 10_000
             and drained(tiers, [agent.name for agent in tiers.agents if agent.name != primary]), 600,
             f"the L1s reading every line and draining through the other collector with {collector.name} dead")
    recovery(f"Flume: {collector.name} killed whole ({killed} processes); the L1s drained 5,000 more lines each "
             f"through the other collector {time.monotonic() - died:.1f}s later")

    repaired = time.monotonic()
    report = tiers.deploy()  # the repair flume_tiers runs: start what is down
    assert report.started == [primary]
    tiers.wait_answering([primary])
    wait_for(lambda: drained(tiers, [primary]), 300, f"{primary}'s file channel delivering after its restart")
    recovery(f"Flume: {primary} restarted on {collector.name}; its file channel delivered "
             f"{time.monotonic() - repaired:.1f}s after the repair began")

    expected = {event_id: line for host in hosts for event_id, line in host.expected.items()}
    topic = tiers.pipeline.topics[0]
    root = f"/tests/{topic.name}/logs"
    consumer = HadoopConsumer({"bootstrap.servers": cluster.kafka_bootstrap}, cluster_hdfs, root,
                              zookeeper_hosts=cluster.zookeeper_hosts, progress=lambda line: None)
    drain(consumer, topic.name, topic.partitions)
    assert landed(cluster_hdfs, root, topic.name) == Counter(expected.values())
    # the side indexes: each host file's bytes [0, size) once
    files = {host.host: (host.log_dir / "app.log").stat().st_size for host in hosts}
    merged, again = once_each(landed_line_ids(cluster_hdfs, root, topic.name))
    assert again == 0
    assert sorted((file.split(" ")[0], runs) for file, runs in merged.items()) == sorted(
        (host, [(0, size, 10_000)]) for host, size in files.items())
    copies = sum(end_offsets({"bootstrap.servers": cluster.kafka_bootstrap}, topic.name, topic.partitions)) - len(expected)
    assert sum(reason == "copy" for reason in quarantine_reasons(cluster_hdfs, root, topic.name).values()) == copies

    # Hive, on its own host over the cluster's HDFS: records per hour and configuration from the lines,
    # and its line_ids table: each host file's bytes once
    per_config = Counter((hour_name(int(line.split(b",")[2])), int(line.split(b",")[1])) for line in expected.values())
    hive_per_config, hive_line_ids = hive_reports(cluster_hive, cluster_hdfs, topic.name, root,
                                                  sorted({key for key, _ in per_config}))
    assert hive_per_config == per_config
    assert once_each(hive_line_ids) == (merged, 0)

    # online, on the Supervisor hosts: the topology reads the whole topic; each line is counted once in
    # its pane (on time or late) or as expired there, and the copies are dropped by their ids
    nimbus = cluster.nimbus.nimbus()
    online = ResultReader(cluster.postgres.dsn("logstream"), topic.name, topic.name)
    deploy(nimbus=nimbus, name=topic.name, topic=topic.name, kafka_bootstrap=cluster.kafka_bootstrap,
           results_dsn=online.dsn, jar_dir=cluster.config.home / "storm-jars", command=cluster.streamparse_run)
    try:
        ends = end_offsets({"bootstrap.servers": cluster.kafka_bootstrap}, topic.name, topic.partitions)
        online.wait_for_offsets(Counter(dict(enumerate(ends))), timeout=600)
        counted = online.actual()
        per_pane = Counter(int(line.split(b",")[2]) // PANE * PANE for line in expected.values())
        assert counted.totals + counted.expired == per_pane
        assert counted.bad == (Counter({"copy": copies}) if copies else Counter())
        recovery(f"journey: {len(expected):,} lines, {copies:,} copies of them in Kafka; HDFS, Hive and the online "
                 f"counts each hold every line once ({sum(counted.expired.values()):,} counted as expired online)")
    finally:
        nimbus.kill(topic.name, wait_secs=0)
        wait_for(lambda: nimbus.topology_id(topic.name) is None, 120, f"topology {topic.name} gone")


def test_an_l1_killed_on_its_host_loses_its_channel_and_the_refill_reads_the_host_over_ssh(cluster, cluster_hdfs,
                                                                                           tiers, recovery):
    """``kill -9`` of a front-end host's L1 with both L2s stopped loses the lines of its memory
    channel. The gap finder, run on the box, reads the hosts' files only through each front end's
    sshd (the hosts show their Flume folders at a path that is empty everywhere else, so reading it
    here finds no file), names exactly the lost bytes and refills them through the L1 with their ids:
    every line of the host files lands in the cluster's HDFS once."""
    base = previous_utc_midnight() - 3600
    l1s = [agent for agent in tiers.agents if agent.tier == "l1"]
    victim, other = (HostFiles(host=agent.name, log_dir=agent.log_dir) for agent in l1s)
    topic = tiers.pipeline.topics[0]
    root = f"/tests/{topic.name}/logs"
    # the hosts' Flume folders as the hosts (their sshd) show them
    on_hosts = cluster.host_view_path / "flume_tests" / tiers.home.name
    placement = replace(tiers.placement, hosts_root=on_hosts)
    victim_dir = on_hosts / victim.log_dir.relative_to(tiers.home)
    pipeline = replace(tiers.pipeline, hdfs_root=root, flume=replace(tiers.pipeline.flume, gap_delay_minutes=0))

    size = lose_an_l1s_channel(tiers, victim, lines(victim.host, 0, 6_000, base))
    victim.append("app.log", lines(victim.host, 6_000, 1_000, base))
    other.append("app.log", lines(other.host, 0, 1_000, base))
    wait_for(lambda: accepted(tiers, [victim.host]) >= 1_000 and accepted(tiers, [other.host]) >= 1_000
             and drained(tiers, [agent.name for agent in tiers.agents]), 300, "every channel to be empty")
    consumer = HadoopConsumer({"bootstrap.servers": cluster.kafka_bootstrap}, cluster_hdfs, root,
                              zookeeper_hosts=cluster.zookeeper_hosts, progress=lambda line: None)
    drain(consumer, topic.name, topic.partitions)
    expected = {event_id: line for host in (victim, other) for event_id, line in host.expected.items()}
    before = landed(cluster_hdfs, root, topic.name)
    missing = sorted(event_id for event_id, line in expected.items() if before[line] == 0)
    assert missing and all(event_id[0] == victim.host and event_id[2] < size for event_id in missing), \
        "the premise: the killed L1 lost the lines of its channel, and only those"

    frontends = {host: tiers.agent_hosts[host].name for host in (victim.host, other.host)}
    clients = {host: cluster.ssh_server(frontend).client() for host, frontend in frontends.items()}
    files = {host: SshHostFiles(client, name=host) for host, client in clients.items()}
    try:
        # the path the hosts show their files at holds nothing here: a local read would find no gap
        assert scan_host_files(victim.host, victim_dir, r".*", LocalHostFiles()) == []
        began = time.monotonic()
        found = find_and_refill(cluster_hdfs, pipeline, placement, tiers.agents, topic=topic.name, now=time.time(),
                                l1_address=tiers.address, host_files=files.__getitem__)
        refilled = time.monotonic() - began
    finally:
        for host in files:
            files[host].close()
            clients[host].close()
    lost = merged_spans([(event_id[2], victim.ends[event_id]) for event_id in missing])
    assert [(gap.host, gap.file_id, gap.start, gap.end) for gap in found.report.gaps] == [
        (victim.host, missing[0][1], start, end) for start, end in lost]
    assert {gap.path for gap in found.report.gaps} == {str(victim_dir / "app.log")}
    assert (sum(found.refilled.values()), found.failures, found.report.lost) == (len(missing), [], [])
    wait_for(lambda: drain(consumer, topic.name, topic.partitions) is not None
             and sum(landed(cluster_hdfs, root, topic.name).values()) >= len(expected), 300, "the refilled lines to land")
    assert landed(cluster_hdfs, root, topic.name) == Counter(expected.values())
    recovery(f"Flume: kill -9 of {victim.host}'s L1 on {frontends[victim.host]} with both L2s stopped lost "
             f"{len(missing):,} lines; the gap finder read both hosts over SSH and refilled them in {refilled:.1f}s; "
             f"HDFS holds all {len(expected):,} lines once")
