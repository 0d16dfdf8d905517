"""The Flume tiers on real JVMs into the stack's Kafka: every line written on the hosts reaches its
business topic byte for byte, identified by its event id (host, file, byte offset)."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from flume_hosts import HostFiles, lose_an_l1s_channel, merged_spans, own_tiers, read_topic, start_tiers
from log_times import hour_name, hour_start_ago
from online_stats import PANE, ResultReader, wait_for
from landed_logs import hive_reports
from produced_and_landed import drain, end_offsets, landed, once_each, quarantine_reasons
from hooks.hiveserver2 import BoundedHiveServer2Hook
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.flume.agent_config import FlumeConfigError, host_partitions
from logstream.flume.gap_refill import find_and_refill
from logstream.flume.line_refill import L1RefillClient, lines_in_range
from logstream.flume.health import AgentRole, agent_problems
from logstream.flume.metrics import AgentUnreachable, read_metrics
from logstream.log_entry import MAX_ENTRY_BYTES
from logstream.storm.deployment import deploy


@pytest.fixture(scope="module")
def tiers(stack):
    tiers = own_tiers(stack, f"t_flume_{uuid.uuid4().hex[:8]}", slot=0, idle_timeout_ms=3_000)
    tiers.prepare_hosts()
    tiers.ensure_topics()
    tiers.deploy()
    tiers.wait_answering()
    yield tiers
    tiers.stop()


def host_files(tiers) -> list[HostFiles]:
    return [HostFiles(host=agent.name, log_dir=agent.log_dir) for agent in tiers.agents if agent.tier == "l1"]


def test_every_line_reaches_its_topic_with_its_event_id(tiers, stack):
    hosts = host_files(tiers)
    for number, host in enumerate(hosts):
        host.append("app.log", [f"10.0.{number}.{i % 250},{1000 + i % 7},{1795000000 + i},300".encode() for i in range(3000)])
        host.append("audit.log", [f"172.16.{number}.{i % 250},42,{1795000000 + i},60".encode() for i in range(2000)])
        # Windows line ends: the line arrives without its CR, its end is past the CR LF
        host.append("crlf.log", [f"172.17.{number}.{i % 250},43,{1795000000 + i},60".encode() for i in range(500)],
                    separator=b"\r\n")
    expected = {event_id: line for host in hosts for event_id, line in host.expected.items()}
    assert len(expected) == 11_000

    delivered = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(expected))

    assert expected.keys() - delivered.bodies.keys() == set()
    assert {event_id: delivered.bodies[event_id] for event_id in expected} == expected
    # nothing else arrived; a duplicate (an Avro or Kafka request that timed out on a loaded machine
    # and was re-sent) is the same line with the same id
    assert set(delivered.records) == set(expected.items())
    print(f"{len(expected)} lines, {delivered.duplicates} re-sent duplicates")
    assert delivered.without_id == []
    # each line's id: its file's identity (the key of `expected`) and its end, as computed here from the files
    assert {event_id: delivered.line_ids[event_id][0] for event_id in expected} == \
        {event_id: end for host in hosts for event_id, end in host.ends.items()}
    assert len({(host, file_id) for host, file_id, _start in expected}) == 3 * len(hosts)
    # all of a host's lines share one partition
    partitions = {}
    for (host, _file_id, _start), (_end, partition) in delivered.line_ids.items():
        partitions.setdefault(host, set()).add(partition)
    assert all(len(used) == 1 for used in partitions.values()), partitions
    # every offset written with 15 digits (leading zeros: the keys of a file are of one length)
    assert delivered.offset_widths == {15}


def test_bad_lines_pass_through_and_the_agents_keep_going(tiers, stack):
    hosts = host_files(tiers)
    web1, web2 = hosts
    oversized = b"10.0.0.1,1," + b"9" * (50 * MAX_ENTRY_BYTES) + b",300"
    binary = bytes(b for b in os.urandom(3000) if b != 0x0A)[:2000] + b"\x00end"
    # over Kafka's 1 MB message limit: whole, it would block the L2's Kafka sink for good
    too_big_for_kafka = b"10.0.0.2,1," + os.urandom(1_500_000).replace(b"\n", b"n") + b",300"
    web1.append("bad.log", [b"not an entry", oversized, binary, b"", "ümlaut,é,ß,∞".encode()])
    web1.append("huge.log", [too_big_for_kafka])
    web1.append("bad.log", [b"10.0.0.9,1,1795000000,300"])
    # a last line without its newline is sent once the file has been idle for idle_timeout_ms
    web2.append("tail.log", [b"10.0.0.8,1,1795000000,300", b"10.0.0.7,1,1795000000,300 no newline"],
                newline_at_end=False)
    expected = {**web1.expected, **web2.expected}

    delivered = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(expected))

    huge_id = next(event_id for event_id, line in expected.items() if line == too_big_for_kafka)
    assert {event_id: delivered.bodies.get(event_id) for event_id in expected if event_id != huge_id} == \
        {event_id: line for event_id, line in expected.items() if event_id != huge_id}
    # the L1 cut it: its first bytes and a note, still longer than an entry may be (quarantined as oversized)
    keep = tiers.pipeline.flume.line_keep_bytes
    cut = delivered.bodies[huge_id]
    assert cut.startswith(too_big_for_kafka[:keep]) and b"[cut by the L1 agent" in cut[keep:], cut[keep:]
    assert MAX_ENTRY_BYTES < len(cut) < keep + 200
    assert _line_at(web1.paths[huge_id], huge_id[2]) == too_big_for_kafka  # whole where the id points
    # every line's end, the cut one's included, is the file's: as computed here
    assert {event_id: delivered.line_ids[event_id][0] for event_id in expected} == {**web1.ends, **web2.ends}
    for agent in tiers.agents:
        assert tiers.answers(agent.name), f"{agent.name} stopped answering after the bad lines"


def test_a_log_file_rotated_mid_stream_is_read_to_its_end(tiers, stack):
    hosts = host_files(tiers)
    written = {}
    for host in hosts:
        lines = [f"192.168.1.{i % 250},7,{1795000000 + i},300 {host.host}#{i}".encode() for i in range(20_000)]
        host.append("rotating.log", lines[:10_000])
        host.rotate("rotating.log", "rotating.log.1")
        host.append("rotating.log.1", lines[10_000:12_000])  # a writer still holding the old file
        # the new file starts with the same line as the rotated one: only its inode tells them apart
        host.append("rotating.log", lines[:1] + lines[12_000:])
        written[host.host] = lines + lines[:1]
    expected = {event_id: line for host in hosts for event_id, line in host.expected.items()}
    # the identity of a file survives its rename (the rotated file's lines, written under both names,
    # have one); the new file has another, though its first line is the same
    for host in hosts:
        identities = {}
        for event_id, path in host.paths.items():
            identities.setdefault(path, set()).add(event_id[1])
        assert [len(ids) for ids in identities.values()] == [1, 1] and len(set.union(*identities.values())) == 2

    delivered = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(expected))

    rotating = {event_id: body for event_id, body in delivered.records if event_id in expected}
    assert rotating == expected
    for host in hosts:
        assert sorted(body for (name, _, _), body in rotating.items() if name == host.host) == sorted(written[host.host])
    # every id points at its line, in the file that holds it now
    for event_id, body in rotating.items():
        assert _line_at(next(h for h in hosts if h.host == event_id[0]).paths[event_id], event_id[2]) == body


def _line_at(path: str, offset: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.readline().rstrip(b"\n")


def test_a_config_that_cannot_be_rendered_names_the_problem(tiers, stack):
    from dataclasses import replace

    from logstream.flume.agent_config import render_agents
    from logstream.pipeline_config import FlumeHost

    broken = replace(tiers.pipeline, flume=replace(tiers.pipeline.flume, hosts=(
        FlumeHost(name="ghost", topic="no_such_topic", log_dir="hosts/ghost"),)))
    with pytest.raises(FlumeConfigError) as error:
        render_agents(broken, tiers.placement, port_is_free=lambda port: port != tiers.avro_base_port)
    message = str(error.value)
    assert "host 'ghost': unknown topic 'no_such_topic'" in message
    assert f"log directory {tiers.home / 'hosts' / 'ghost'} does not exist" in message
    assert f"agent '{tiers.pipeline.flume.l2_agents[0]}': Avro port {tiers.avro_base_port} is in use" in message


def _readings(tiers) -> dict:
    readings = {}
    for agent in tiers.agents:
        try:
            readings[agent.name] = read_metrics(agent.name, tiers.metrics_url(agent.name))
        except AgentUnreachable:
            readings[agent.name] = None
    return readings


# The HadoopConsumer judges these lines' StartTimes against their Kafka timestamps (the age bound is
# 720 h): a day back from the clock, never a fixed date (lines of up to 14,000 s stay in the past).
START_TIME_BASE = hour_start_ago(24)


_HOST_OCTETS: dict[str, int] = {}


def _lines(host: str, start: int, count: int) -> list[bytes]:
    """Valid entries, each line of the session different (the host's own second octet, ``i`` in the
    last two), so that the consumers and Hive count them as data."""
    octet = _HOST_OCTETS.setdefault(host, len(_HOST_OCTETS) % 250 + 1)
    return [f"10.{octet}.{i // 250 % 250}.{i % 250},{i % 13},{START_TIME_BASE + i},300".encode()
            for i in range(start, start + count)]


@pytest.fixture
def start_own_tiers(stack, unique_name):
    """Tiers of the test's own (a killed agent must not disturb the others), on ports of ``slot``."""
    started = []

    def start(slot: int, **options):
        tiers = own_tiers(stack, unique_name, slot=slot, batch_size=500, **options)
        started.append(tiers)
        return start_tiers(tiers)

    yield start
    for tiers in started:
        tiers.stop()


def test_each_host_reaches_the_topic_of_its_business(start_own_tiers, stack):
    tiers = start_own_tiers(6, two_businesses=True)
    topic_of = {host.name: host.topic for host in tiers.pipeline.flume.hosts}
    assert len(set(topic_of.values())) == 2
    hosts = host_files(tiers)
    for host in hosts:
        host.append("app.log", _lines(host.host, 0, 3_000))
    expected_in = {topic: {event_id: line for host in hosts if topic_of[host.host] == topic
                           for event_id, line in host.expected.items()} for topic in set(topic_of.values())}

    # the fallback topic (the first) last: by then every line of the other business has arrived
    for topic in sorted(expected_in, key=lambda topic: topic == tiers.pipeline.topics[0].name):
        delivered = read_topic(stack.config.kafka_bootstrap, topic, want_ids=set(expected_in[topic]))
        assert len(expected_in[topic]) == 3_000
        assert set(delivered.records) == set(expected_in[topic].items()), f"{topic} holds other lines than its hosts'"


def test_kill_9_of_the_primary_l2_fails_over_and_its_file_channel_delivers_after_restart(start_own_tiers, stack,
                                                                                          hdfs_client, zookeeper_hosts):
    tiers = start_own_tiers(1)
    primary, backup = tiers.pipeline.flume.l2_agents
    hosts = host_files(tiers)
    roles = [AgentRole(name=a.name, tier=a.tier, primary_sink=a.primary_sink) for a in tiers.agents]
    # host i prefers L2 i: web1 sends to the primary, web2 to the backup
    failing_over = [a.name for a in tiers.agents if a.primary_sink == f"to_{primary}"]
    assert failing_over == [hosts[0].host]
    for host in hosts:
        host.append("app.log", _lines(host.host, 0, 5_000))
    wait_for(lambda: read_metrics(primary, tiers.metrics_url(primary)).total("SINK", "EventDrainSuccessCount") > 0,
          timeout=300, what=f"{primary} delivering to Kafka")
    before = _readings(tiers)

    tiers.kill(primary)
    for host in hosts:
        host.append("app.log", _lines(host.host, 5_000, 5_000))
    expected = {event_id: line for host in hosts for event_id, line in host.expected.items()}

    # everything the L1s still held goes through the backup; only the dead L2's file channel waits
    wait_for(lambda: all(r is not None and r.total("CHANNEL", "ChannelSize") == 0
                      for name, r in _readings(tiers).items() if name != primary)
          and all(_readings(tiers)[h.host].total("SOURCE", "EventAcceptedCount") >= 10_000 for h in hosts),
          timeout=600, what="the L1s and the backup L2 to drain")
    after = _readings(tiers)
    problems = {role.name: {p.kind for p in agent_problems(role, before[role.name], after[role.name])} for role in roles}
    assert problems[primary] == {"down"}
    assert "failed_over" in problems[hosts[0].host], problems
    assert problems[hosts[1].host] == set() and problems[backup] == set(), problems
    held = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(expected), timeout=20)
    waiting = expected.keys() - held.bodies.keys()

    tiers.start(primary)
    tiers.wait_answering([primary])
    delivered = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(expected))

    assert expected.keys() - delivered.bodies.keys() == set()
    assert {event_id: delivered.bodies[event_id] for event_id in expected} == expected
    assert delivered.bodies.keys() == expected.keys()
    # at-least-once: the batch web1 had in flight to the killed L2 (stored there, unacknowledged) is re-sent
    # through the backup, and each of the killed L2's Kafka sinks re-sends its unconfirmed batch after restart
    batch, sinks = tiers.pipeline.flume.batch_size, tiers.pipeline.flume.kafka_sinks_per_l2
    bound = batch * (len(failing_over) + sinks)
    print(f"kill -9 {primary}: {len(waiting)} events waited in its file channel, {delivered.duplicates} duplicates "
          f"(bound {bound}: one batch of the failing-over L1 plus one Kafka batch per sink of the killed L2)")
    assert delivered.duplicates <= bound
    restarted = read_metrics(primary, tiers.metrics_url(primary))
    assert restarted.total("SINK", "EventDrainSuccessCount") >= len(waiting)

    # downstream, the copies are dropped by their line ids: HDFS holds every line once
    topic = tiers.pipeline.topics[0].name
    root = f"/tests/{topic}/logs"
    consumer = HadoopConsumer({"bootstrap.servers": stack.config.kafka_bootstrap}, hdfs_client, root,
                              zookeeper_hosts=zookeeper_hosts, progress=lambda line: None)
    try:
        drain(consumer, topic, tiers.pipeline.topics[0].partitions)
        assert landed(hdfs_client, root, topic) == Counter(expected.values())
    finally:
        hdfs_client.delete(f"/tests/{topic}", recursive=True)


def test_kafka_down_for_a_while_loses_nothing_and_a_killed_l2_replays_its_file_channel(start_own_tiers, stack):
    tiers = start_own_tiers(2)
    hosts = host_files(tiers)
    l2_agents = list(tiers.pipeline.flume.l2_agents)
    kafka = stack.service("kafka")
    for host in hosts:
        host.append("app.log", _lines(host.host, 0, 2_000))
    read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name,
               want_ids={i for h in hosts for i in h.expected}, timeout=600)

    kafka.stop()
    try:
        for host in hosts:
            host.append("app.log", _lines(host.host, 2_000, 5_000))
        held = wait_for(lambda: (r := _readings(tiers)) and sum(r[a].total("SOURCE", "EventAcceptedCount") for a in l2_agents)
                     >= 14_000 and {a: int(r[a].total("CHANNEL", "ChannelSize")) for a in l2_agents},
                     timeout=600, what="the L2 file channels to take everything while Kafka is down")
        fullest = max(held, key=held.get)
        assert held[fullest] > 0
        tiers.kill(fullest)
    finally:
        kafka.launch()
        kafka.wait_healthy()
    expected = {event_id: line for host in hosts for event_id, line in host.expected.items()}
    tiers.start(fullest)
    tiers.wait_answering([fullest])

    delivered = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(expected),
                           timeout=600)

    assert expected.keys() - delivered.bodies.keys() == set()
    assert {event_id: delivered.bodies[event_id] for event_id in expected} == expected
    print(f"Kafka down: {held} events held in the L2 file channels, {fullest} killed holding {held[fullest]}; "
          f"{delivered.duplicates} duplicates")
    # a Kafka request that timed out while the broker was away is re-sent: at most a batch per sink
    flume = tiers.pipeline.flume
    assert delivered.duplicates <= flume.batch_size * flume.kafka_sinks_per_l2 * len(l2_agents)


def _copies(client, root: str, topic: str) -> int:
    return sum(reason == "copy" for reason in quarantine_reasons(client, root, topic).values())


def test_kill_9_of_an_l1_with_both_l2s_down_loses_its_channel_and_the_gap_refill_brings_every_line_back_once(
        start_own_tiers, stack, hdfs_client, zookeeper_hosts):
    """Lines in a killed L1's memory channel are lost (TAILDIR's position had passed them); the gap
    finder names exactly those bytes and the refill sends them through the tiers with their ids, so
    HDFS ends with every line of the host files once, Hive's reports count each once, and the
    topology (running on the topic throughout) counts each once: in its pane, or as expired when the
    refill comes after the pane closed. Without the refill (or with other ids) the final
    ``landed == expected`` fails: missing lines, or lines landed twice; the topology's line ranges
    taken out of its flushes (every copy counted) fail the online comparison."""
    tiers = start_own_tiers(5)
    hosts = host_files(tiers)
    victim, other = hosts
    topic = tiers.pipeline.topics[0].name
    partitions = tiers.pipeline.topics[0].partitions
    root = f"/tests/{topic}/logs"
    pipeline = replace(tiers.pipeline, hdfs_root=root, flume=replace(tiers.pipeline.flume, gap_delay_minutes=0))
    consumer = HadoopConsumer({"bootstrap.servers": stack.config.kafka_bootstrap}, hdfs_client, root,
                              zookeeper_hosts=zookeeper_hosts, progress=lambda line: None)
    nimbus = stack.service("storm").nimbus()
    online = ResultReader(stack.service("postgres").dsn("logstream"), topic, topic)
    deploy(nimbus=nimbus, name=topic, topic=topic, kafka_bootstrap=stack.config.kafka_bootstrap,
           results_dsn=online.dsn, jar_dir=stack.config.data_dir / "storm" / "jars")
    try:
        # TAILDIR has read every line into the memory channel and saved its position past them
        size = lose_an_l1s_channel(tiers, victim, _lines(victim.host, 0, 12_000))
        victim.append("app.log", _lines(victim.host, 12_000, 2_000))
        other.append("app.log", _lines(other.host, 0, 2_000))
        expected = {event_id: line for host in hosts for event_id, line in host.expected.items()}
        later = {event_id for event_id in victim.expected if event_id[2] >= size} | set(other.expected)
        read_topic(stack.config.kafka_bootstrap, topic, want_ids=later)
        wait_for(lambda: all(r is not None and r.total("CHANNEL", "ChannelSize") == 0 for r in _readings(tiers).values()),
              timeout=300, what="every channel to be empty")
        drain(consumer, topic, tiers.pipeline.topics[0].partitions)
        before_refill = landed(hdfs_client, root, topic)
        missing = [event_id for event_id, line in expected.items() if before_refill[line] == 0]
        assert missing and all(event_id[0] == victim.host and event_id[2] < size for event_id in missing), \
            "the premise: the killed L1 lost the lines of its channel, and only those"
        print(f"kill -9 of {victim.host} with both L2s stopped: {len(missing)} of 12,000 lines lost")

        found = find_and_refill(hdfs_client, pipeline, tiers.placement, tiers.agents, topic=topic, now=time.time(),
                                kafka_bootstrap=stack.config.kafka_bootstrap, progress=print)
        lost_spans = merged_spans([(event_id[2], victim.ends[event_id]) for event_id in missing])
        # the accounting by ids says the same: those bytes are in neither Kafka nor HDFS
        account = {str(a.file.path): a for a in found.accounts}
        victim_account = account[str(victim.log_dir / "app.log")]
        assert victim_account.missing == {"Kafka": lost_spans, "HDFS": lost_spans}
        assert account[str(other.log_dir / "app.log")].missing == {"Kafka": [], "HDFS": []}

        # the gaps are the test's own lost lines, merged into byte ranges of the victim's file
        assert [(gap.host, gap.file_id, gap.start, gap.end) for gap in found.report.gaps] == [
            (victim.host, missing[0][1], start, end)
            for start, end in lost_spans]
        assert sum(found.refilled.values()) == len(missing) and found.failures == [] and found.report.lost == []
        wait_for(lambda: drain(consumer, topic, tiers.pipeline.topics[0].partitions) is not None
              and sum(landed(hdfs_client, root, topic).values()) >= len(expected),
              timeout=300, what="the refilled lines to land")
        assert landed(hdfs_client, root, topic) == Counter(expected.values())
        # and Hive's reports count each of them once: records per hour and configuration, from the lines;
        # Hive's line_ids table says every byte of both host files is landed once, in runs of the lines
        per_config = Counter((hour_name(int(line.split(b",")[2])), int(line.split(b",")[1])) for line in expected.values())
        hive_per_config, hive_line_ids = hive_reports(BoundedHiveServer2Hook(), hdfs_client, topic, root,
                                                     sorted({key for key, _ in per_config}))
        assert hive_per_config == per_config
        written_lines: dict[str, list] = {}
        for (host_name, file_id, start), end in {**victim.ends, **other.ends}.items():
            written_lines.setdefault(f"{host_name} {file_id}", []).append((start, end, 1))
        written = once_each(written_lines)
        assert once_each(hive_line_ids) == written
        assert {file.split()[0]: [(start, end) for start, end, _ in runs] for file, runs in written[0].items()} == {
            host.host: [(0, (host.log_dir / "app.log").stat().st_size)] for host in hosts}

        # a false alarm only makes copies: the other host's first 500 lines sent again are all dropped
        first_500 = sorted(other.expected, key=lambda event_id: event_id[2])[:500]
        path = Path(other.paths[first_500[0]])
        copies_before = _copies(hdfs_client, root, topic)
        sent = L1RefillClient(host=stack.config.host, port=tiers.agent(other.host).refill_port).send(
            topic, other.host, host_partitions(tiers.pipeline)[other.host], first_500[0][1], str(path),
            lines_in_range(path, 0, other.ends[first_500[-1]]), batch_size=tiers.pipeline.flume.batch_size)
        assert sent == 500
        wait_for(lambda: drain(consumer, topic, tiers.pipeline.topics[0].partitions) is not None
              and _copies(hdfs_client, root, topic) >= copies_before + 500,
              timeout=300, what="the re-sent lines to arrive as copies")
        assert _copies(hdfs_client, root, topic) == copies_before + 500
        assert landed(hdfs_client, root, topic) == Counter(expected.values())
        again = find_and_refill(hdfs_client, pipeline, tiers.placement, tiers.agents, topic=topic, now=time.time(),
                                kafka_bootstrap=stack.config.kafka_bootstrap)
        assert again.report.gaps == [] and again.report.pending_bytes == 0
        # every byte of both files once in HDFS; Kafka holds all of them and the re-sent ones twice
        account = {str(a.file.path): a for a in again.accounts}
        assert account[str(victim.log_dir / "app.log")].missing == {"Kafka": [], "HDFS": []}
        assert account[str(other.log_dir / "app.log")].missing == {"Kafka": [], "HDFS": []}
        assert account[str(path)].repeated["Kafka"][0] == (0, other.ends[first_500[-1]])
        assert "HDFS exactly once" in str(account[str(path)])

        # online: once the topology has read the whole topic, each line is counted once in its pane
        # (on time or late) or as expired there, and it dropped the same copies the HadoopConsumer did
        ends = end_offsets({"bootstrap.servers": stack.config.kafka_bootstrap}, topic, partitions)
        online.wait_for_offsets(Counter(dict(enumerate(ends))), timeout=600)
        counted = online.actual()
        per_pane = Counter(int(line.split(b",")[2]) // PANE * PANE for line in expected.values())
        assert counted.totals + counted.expired == per_pane
        assert counted.bad == Counter({"copy": _copies(hdfs_client, root, topic)})
        print(f"online: {sum(counted.totals.values())} lines counted in their panes, "
              f"{sum(counted.expired.values())} refilled after their panes closed (expired), {counted.bad['copy']} copies")
    finally:
        nimbus.kill(topic, wait_secs=0)
        wait_for(lambda: nimbus.topology_id(topic) is None, timeout=120, what=f"topology {topic} to be gone")
        hdfs_client.delete(f"/tests/{topic}", recursive=True)
