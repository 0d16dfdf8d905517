"""Flume tiers of a test's own (its topic, hosts, L2 agents, ports and dirs), lines written to the
simulated hosts' files with the event ids they must arrive with, and what reached Kafka."""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from online_stats import wait_for

from logstream.pipeline_config import FlumeHost, FlumeSettings, load_pipeline_config
from logstream.pipeline_config import TopicConfig
from logstream.stack.flume import FlumeTiers

HOSTS = ("web1", "web2")
L2_AGENTS = ("l2a", "l2b")


def own_tiers(stack, name: str, *, slot: int, batch_size: int = 100, idle_timeout_ms: int = 120_000,
               topic_partitions: int = 2, two_businesses: bool = False) -> FlumeTiers:
    """Agents named ``<name>_web1``... on ports ``base + 20 + 10*slot`` (slot: one per test, 0-7).
    Every host files its lines under topic ``<name>``, or with ``two_businesses`` web2 under
    ``<name>_b`` (the L2s' fallback topic stays ``<name>``, so only the topic header routes web2)."""
    pipeline = own_pipeline(name, batch_size=batch_size, idle_timeout_ms=idle_timeout_ms,
                            topic_partitions=topic_partitions, two_businesses=two_businesses)
    ports = stack.config.ports
    return FlumeTiers(stack=stack.config, pipeline=pipeline, home=stack.config.data_dir / "flume_tests" / name,
                      avro_base_port=ports["flume_avro"] + 20 + 10 * slot,
                      metrics_base_port=ports["flume_metrics"] + 20 + 10 * slot)


def cluster_tiers(cluster, name: str, *, slot: int, batch_size: int = 100, topic_partitions: int = 3) -> FlumeTiers:
    """:func:`own_tiers`' agents, each on a host of the cluster (web1 and web2 on the front-end hosts,
    the L2s on the collectors, beside the pipeline's own agents there), delivering into the cluster's
    Kafka; as the cluster's own agents, they fetch their configuration from the cluster's ZooKeeper
    (under the test's own path)."""
    pipeline = own_pipeline(name, batch_size=batch_size, idle_timeout_ms=3_000, topic_partitions=topic_partitions)
    stack = cluster.config.stack
    return FlumeTiers(stack=stack, pipeline=pipeline, home=cluster.config.home / "flume_tests" / name,
                      avro_base_port=stack.ports["flume_avro"] + 20 + 10 * slot,
                      metrics_base_port=stack.ports["flume_metrics"] + 20 + 10 * slot,
                      agent_hosts={**{f"{name}_{host}": cluster.frontends[i] for i, host in enumerate(HOSTS)},
                                   **{f"{name}_{agent}": cluster.collectors[i] for i, agent in enumerate(L2_AGENTS)}},
                      kafka_bootstrap=cluster.kafka_bootstrap, config_zookeeper=cluster.zookeeper_hosts,
                      config_path=f"/logstream/flume_tests/{name}")


def own_pipeline(name: str, *, batch_size: int, idle_timeout_ms: int, topic_partitions: int,
                 two_businesses: bool = False):
    pipeline = load_pipeline_config()
    topic_of = {host: f"{name}_b" if two_businesses and host == HOSTS[1] else name for host in HOSTS}
    flume = FlumeSettings(
        hosts=tuple(FlumeHost(name=f"{name}_{host}", topic=topic_of[host], log_dir=f"hosts/{host}") for host in HOSTS),
        l2_agents=tuple(f"{name}_{agent}" for agent in L2_AGENTS),
        batch_size=batch_size,
        idle_timeout_ms=idle_timeout_ms,
        memory_channel_capacity=20_000,
        file_channel_capacity=200_000,
        minimum_free_megabytes=100,
        max_penalty_ms=5_000,
    )
    topics = tuple(TopicConfig(name=topic, partitions=topic_partitions) for topic in dict.fromkeys(topic_of.values()))
    return replace(pipeline, topics=topics, flume=flume)


def start_tiers(tiers: FlumeTiers) -> FlumeTiers:
    """Host dirs, topics, agents deployed and answering."""
    tiers.prepare_hosts()
    tiers.ensure_topics()
    tiers.deploy()
    tiers.wait_answering()
    return tiers


# a line's event id as the tests name it: (host, file identity, first byte), the file identity being
# "<inode>-<CRC-32 of the file's first line, hex>", computed here from the files
EventId = tuple[str, str, int]


@dataclass
class HostFiles:
    """Appends lines to a host's log files and remembers each line's event id, its end (the offset
    past its separator) and the path it was written to."""

    host: str
    log_dir: Path
    expected: dict[EventId, bytes] = field(default_factory=dict)
    ends: dict[EventId, int] = field(default_factory=dict)
    paths: dict[EventId, str] = field(default_factory=dict)

    def append(self, file_name: str, lines: list[bytes], *, newline_at_end: bool = True,
               separator: bytes = b"\n") -> None:
        path = self.log_dir / file_name
        with path.open("ab") as handle:
            offset = handle.tell()
            written = []
            for index, line in enumerate(lines):
                last = index == len(lines) - 1
                data = line if (last and not newline_at_end) else line + separator
                written.append((offset, offset + len(data), line))
                handle.write(data)
                offset += len(data)
            inode = os.fstat(handle.fileno()).st_ino
        with path.open("rb") as handle:
            first_line = handle.readline(4096)
        file_id = f"{inode}-{zlib.crc32(first_line):x}"
        for start, end, line in written:
            event_id = (self.host, file_id, start)
            self.expected[event_id], self.ends[event_id], self.paths[event_id] = line, end, str(path)

    def rotate(self, file_name: str, rotated_name: str) -> None:
        """Rename as logrotate does: the lines keep their ids (the file its identity), not their path."""
        old, new = str(self.log_dir / file_name), str(self.log_dir / rotated_name)
        os.rename(old, new)
        self.paths = {event_id: new if path == old else path for event_id, path in self.paths.items()}


@dataclass(frozen=True)
class Delivered:
    """Every record of a topic as (event id, body), read from its key; records without a line id apart."""

    records: list[tuple[EventId, bytes]]
    without_id: list[bytes]
    # event id -> (end, Kafka partition) of its (last) record
    line_ids: dict[EventId, tuple[int, int]] = field(default_factory=dict)
    # the number of digits each offset of a key was written with
    offset_widths: set[int] = field(default_factory=set)

    @cached_property
    def bodies(self) -> dict[EventId, bytes]:
        return dict(self.records)

    @property
    def duplicates(self) -> int:
        """Records that repeat an earlier (id, body): Flume's at-least-once re-sends."""
        return len(self.records) - len(set(self.records))


def read_topic(bootstrap: str, topic: str, *, want_ids: set, timeout: float = 600.0) -> Delivered:
    """Read ``topic`` from the start until every id in ``want_ids`` arrived (or time runs out), then
    on to the end, so that a re-sent batch after the last wanted id is counted too."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check_{topic}", "enable.auto.commit": False})
    records: list = []
    without_id: list[bytes] = []
    line_ids: dict = {}
    offset_widths: set[int] = set()
    seen: set = set()

    def take(messages) -> int:
        for message in messages:
            if message.error():
                raise RuntimeError(message.error())
            # the key is "ls1 <host> <file identity> <start> <end>" (read here by hand)
            key = (message.key() or b"").decode().split(" ")
            if len(key) != 5 or key[0] != "ls1":
                without_id.append(message.value())
                continue
            event_id = (key[1], key[2], int(key[3]))
            records.append((event_id, message.value()))
            line_ids[event_id] = (int(key[4]), message.partition())
            offset_widths.update((len(key[3]), len(key[4])))
            seen.add(event_id)
        return len(messages)

    try:
        partitions = consumer.list_topics(topic, timeout=15).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not want_ids <= seen:
            take(consumer.consume(num_messages=5000, timeout=1.0))
        while take(consumer.consume(num_messages=5000, timeout=3.0)):
            pass
        return Delivered(records=records, without_id=without_id, line_ids=line_ids, offset_widths=offset_widths)
    finally:
        consumer.close()


def taildir_position(tiers: FlumeTiers, host: str) -> int:
    """Where the L1 of ``host`` has saved its reading of its files (summed over them)."""
    path = tiers.agent(host).state_dir / "taildir_position.json"
    try:
        return sum(entry["pos"] for entry in json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return 0


def lose_an_l1s_channel(tiers: FlumeTiers, victim: HostFiles, lines: list[bytes]) -> int:
    """With both L2s stopped, ``lines`` appended to the victim's ``app.log`` until its TAILDIR has read
    them into its memory channel and saved its position past them; then ``kill -9`` of its L1 and
    every agent started again. The lines of the file before the returned size may be lost."""
    l2_agents = list(tiers.pipeline.flume.l2_agents)
    tiers.stop(l2_agents)
    victim.append("app.log", lines)
    size = (victim.log_dir / "app.log").stat().st_size
    wait_for(lambda: taildir_position(tiers, victim.host) == size, 300,
             f"{victim.host}'s TAILDIR position to reach the end of its file")
    tiers.kill(victim.host)
    for name in l2_agents:
        tiers.start(name)
    tiers.wait_answering(l2_agents)
    tiers.start(victim.host)
    tiers.wait_answering([victim.host])
    return size


def merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte ranges merged where they touch or overlap, in order."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]

