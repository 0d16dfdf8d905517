"""Accounting by line ids: which bytes of each host file each hop holds, and how often.

Counts cancel out (a lost line beside a re-sent one adds up); byte ranges do not. Per host file
(``flume.line_gaps.HostFile``) the hops are: Kafka (every record's key, ``logstream.line_ids``: the
ranges seen once and those seen again, re-sent by Flume), HDFS (the HadoopConsumer's committed
``offset.dat`` ranges; a copy is quarantined, not landed) and online (the topology's committed
``online_offsets.line_ranges``). Each hop says which bytes of ``[0, end of the last whole line)``
it misses and, for Kafka, which it holds more than once; "exactly once" when neither.

Kafka is read incrementally: ``KafkaLineScan`` keeps the next offset per partition and the ranges
seen so far (``to_json``), so each round reads only the records added since the last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from logstream.flume.line_gaps import HostFile, uncovered
from logstream.line_ids import LineRanges, line_id
from logstream.results import schema


@dataclass
class KafkaLineScan:
    """The line ids of a topic's records read so far: ``once`` (first copies) and ``again`` (bytes of
    records whose first byte was already seen), and where each partition's reading stopped."""

    next_offsets: dict[int, int] = field(default_factory=dict)
    once: LineRanges = field(default_factory=LineRanges)
    again: LineRanges = field(default_factory=LineRanges)
    records: int = 0

    def take(self, key: bytes | None, timestamp_ms: int = 0) -> None:
        found = line_id(key)
        if found is None:
            return
        file, start, end = found
        (self.again if self.once.covers(file, start) else self.once).add(file, start, end, timestamp_ms)

    def read(self, bootstrap: str, topic: str, *, timeout: float = 30.0) -> int:
        """Read ``topic`` from where the last round stopped up to its current end; the records read."""
        from confluent_kafka import Consumer, KafkaError, TopicPartition

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "logstream-line-accounting",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        read = 0
        try:
            partitions = sorted(consumer.list_topics(topic, timeout=timeout).topics[topic].partitions)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout) for p in partitions}
            todo = {}
            for p in partitions:
                low, high = ends[p]
                start = max(self.next_offsets.get(p, 0), low)
                if start < high:
                    todo[p] = high
                else:
                    self.next_offsets[p] = max(start, self.next_offsets.get(p, 0))
            consumer.assign([TopicPartition(topic, p, max(self.next_offsets.get(p, 0), ends[p][0])) for p in todo])
            while todo:
                messages = consumer.consume(num_messages=10_000, timeout=timeout)
                if not messages:
                    raise TimeoutError(f"{topic}: no record for {timeout:.0f}s before the end offsets {todo}")
                for message in messages:
                    if message.error():
                        if message.error().code() == KafkaError._PARTITION_EOF:
                            continue
                        raise RuntimeError(f"{topic}: {message.error()}")
                    partition, offset = message.partition(), message.offset()
                    if partition not in todo or offset >= todo[partition]:
                        continue
                    self.take(message.key(), message.timestamp()[1])
                    read += 1
                    self.next_offsets[partition] = offset + 1
                    if offset + 1 >= todo[partition]:
                        del todo[partition]
        finally:
            consumer.close()
        self.records += read
        return read

    def to_json(self) -> str:
        return json.dumps({"next_offsets": self.next_offsets, "once": self.once.to_json(),
                           "again": self.again.to_json(), "records": self.records})

    @classmethod
    def from_json(cls, text: str) -> KafkaLineScan:
        if not text:
            return cls()
        state = json.loads(text)
        return cls({int(p): int(o) for p, o in state["next_offsets"].items()}, LineRanges.from_json(state["once"]),
                   LineRanges.from_json(state["again"]), int(state.get("records", 0)))


@dataclass(frozen=True)
class FileAccount:
    """What each hop holds of one host file: missing and repeated byte ranges per hop."""

    file: HostFile
    missing: dict[str, list[tuple[int, int]]]
    repeated: dict[str, list[tuple[int, int]]]

    @property
    def exactly_once(self) -> bool:
        return not any(self.missing.values()) and not any(self.repeated.values())

    def __str__(self) -> str:
        parts = []
        for hop in self.missing:
            missing, repeated = self.missing[hop], self.repeated.get(hop, [])
            if not missing and not repeated:
                parts.append(f"{hop} exactly once")
                continue
            said = []
            if missing:
                said.append(f"misses {_ranges(missing)}")
            if repeated:
                said.append(f"holds {_ranges(repeated)} more than once")
            parts.append(f"{hop} " + " and ".join(said))
        return (f"{self.file.host} file {self.file.file_id} ({self.file.path}) bytes [0, {self.file.complete_end}): "
                + "; ".join(parts))


def _ranges(ranges: list[tuple[int, int]]) -> str:
    shown = ", ".join(f"[{start}, {end})" for start, end in ranges[:5])
    more = f" and {len(ranges) - 5} more" if len(ranges) > 5 else ""
    return f"{sum(end - start for start, end in ranges)} bytes in {shown}{more}"


def account_files(files: list[HostFile], hops: Mapping[str, LineRanges],
                  repeated: Mapping[str, LineRanges] | None = None) -> list[FileAccount]:
    """Each file's account against each hop's ranges (``hops``: name -> ranges, in hop order) and the
    bytes a hop holds again (``repeated``)."""
    repeated = repeated or {}
    return [FileAccount(
        file,
        {hop: uncovered(ranges.ranges(file.key), file.complete_end) for hop, ranges in hops.items()},
        {hop: ranges.ranges(file.key) for hop, ranges in repeated.items() if ranges.ranges(file.key)},
    ) for file in files]


def online_line_ranges(query, topology: str, topic: str) -> LineRanges | None:
    """The lines the topology ``topology`` committed from ``topic``, all partitions (None: it has
    committed nothing there). ``query(sql, parameters)`` returns rows (a hook's ``get_records``)."""
    rows = query(f"SELECT line_ranges FROM {schema.OFFSETS} WHERE topology = %s AND topic = %s", (topology, topic))
    if not rows:
        return None
    ranges = LineRanges()
    for (text,) in rows:
        text = text.read() if hasattr(text, "read") else text  # an Oracle CLOB is read
        if text:
            ranges.update(LineRanges.from_json(text))
    return ranges
