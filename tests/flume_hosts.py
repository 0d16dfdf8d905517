"""Flume tiers of a test's own (its topic, hosts, L2 agents, ports and dirs), lines written to the
simulated hosts' files with the event ids they must arrive with, and what reached Kafka."""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

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
    pipeline = replace(pipeline, topics=topics, flume=flume)
    ports = stack.config.ports
    return FlumeTiers(stack=stack.config, pipeline=pipeline, home=stack.config.data_dir / "flume_tests" / name,
                      avro_base_port=ports["flume_avro"] + 20 + 10 * slot,
                      metrics_base_port=ports["flume_metrics"] + 20 + 10 * slot)


@dataclass
class HostFiles:
    """Appends lines to a host's log files and remembers each line's event id (host, file, offset),
    and its line id's other parts: the file's identity and the line's end."""

    host: str
    log_dir: Path
    expected: dict[tuple[str, str, int], bytes] = field(default_factory=dict)
    # event id -> (file identity: "<inode>-<CRC-32 of the first line, hex>", offset past the line's separator)
    line_ids: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict)

    def append(self, file_name: str, lines: list[bytes], *, newline_at_end: bool = True,
               separator: bytes = b"\n") -> None:
        path = self.log_dir / file_name
        with path.open("ab") as handle:
            offset = handle.tell()
            written = []
            for index, line in enumerate(lines):
                last = index == len(lines) - 1
                data = line if (last and not newline_at_end) else line + separator
                self.expected[(self.host, str(path), offset)] = line
                written.append(((self.host, str(path), offset), offset + len(data)))
                handle.write(data)
                offset += len(data)
            inode = os.fstat(handle.fileno()).st_ino
        with path.open("rb") as handle:
            first_line = handle.readline(4096)
        file_id = f"{inode}-{zlib.crc32(first_line):x}"
        self.line_ids.update((event_id, (file_id, end)) for event_id, end in written)

    def rotate(self, file_name: str, rotated_name: str) -> None:
        """Rename as logrotate does; the lines already written keep their ids under the new name."""
        old, new = str(self.log_dir / file_name), str(self.log_dir / rotated_name)
        os.rename(old, new)

        def renamed(event_id: tuple[str, str, int]) -> tuple[str, str, int]:
            host, path, offset = event_id
            return (host, new, offset) if path == old else event_id

        self.expected = {renamed(event_id): line for event_id, line in self.expected.items()}
        self.line_ids = {renamed(event_id): ids for event_id, ids in self.line_ids.items()}


@dataclass(frozen=True)
class Delivered:
    """Every record of a topic as (event id, body); records without an id apart."""

    records: list[tuple[tuple[str, str, int], bytes]]
    without_id: list[bytes]
    # event id -> (fileid header, end header as int, Kafka partition) of its (last) record
    line_ids: dict[tuple[str, str, int], tuple[str | None, int | None, int]] = field(default_factory=dict)

    @cached_property
    def bodies(self) -> dict[tuple[str, str, int], bytes]:
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
    seen: set = set()

    def take(messages) -> int:
        for message in messages:
            if message.error():
                raise RuntimeError(message.error())
            headers = dict(message.headers() or [])
            if "host" not in headers:
                without_id.append(message.value())
                continue
            event_id = (headers["host"].decode(), headers["file"].decode(), int(headers["offset"]))
            records.append((event_id, message.value()))
            end = headers.get("end")
            line_ids[event_id] = ((headers.get("fileid") or b"").decode() or None, int(end) if end else None,
                                  message.partition())
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
        return Delivered(records=records, without_id=without_id, line_ids=line_ids)
    finally:
        consumer.close()
