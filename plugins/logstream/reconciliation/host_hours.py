"""Hop-by-hop accounting per host and hour: how many valid entries of each (Host, hour of StartTime)
each hop holds, and where a count first dropped or grew.

The hops, in the order a record passes them: the front-end hosts' log files, Kafka (after Flume's
L1 and L2 tiers), HDFS (what the HadoopConsumer landed), Hive (the hour's ``records_per_host``
report) and Storm (the topology's per-host panes in the result database). Flume's own counters are
per agent, not per host and hour (``flume/hops.py`` accounts for them per topic). Flume is
at-least-once: a failover re-sends a batch. A re-sent line has the same line id (its Kafka key,
``logstream/line_ids.py``): Kafka's hop counts lines, each id once, as the consumers take them. A
re-sent record without a line id is a surplus at Kafka, shown as duplicated, and every later hop
counts it too.
Records that are not entries have no host: they are counted per hop under the host ``(malformed)``
by their StartTime's hour when it parses, else under the hour ``?``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from logstream.hdfs_layout import hour_partition
from logstream.line_ids import line_id
from logstream.log_entry import InvalidEntry, parse_entry
from logstream.log_hours.hours import dt_and_hour
from logstream.reconciliation.online_offline import offline_host_counts, online_host_counts

HOPS = ("host files", "Kafka", "HDFS", "Hive", "Storm")
MALFORMED = "(malformed)"
Key = tuple[str, str]  # (host, hour key YYYY-MM-DDTHH)


def hour_of(start_time: int) -> str:
    dt, hour = hour_partition(start_time)
    return f"{dt}T{hour}"


def count_lines(lines: Iterable[bytes], hours: set[str] | None = None) -> Counter:
    """(host, hour) -> valid entries among ``lines`` (raw records), optionally only of ``hours``."""
    counts: Counter = Counter()
    for line in lines:
        try:
            entry = parse_entry(line)
            key = (entry.host, hour_of(entry.start_time))
        except InvalidEntry:
            key = (MALFORMED, "?")
        if hours is None or key[1] in hours or key[0] == MALFORMED:
            counts[key] += 1
    return counts


def kafka_lines(bootstrap: str, topic: str, start: Mapping[int, int], end: Mapping[int, int]) -> Iterable[bytes]:
    """Every record value of ``topic`` from ``start`` to ``end`` (offsets per partition, end exclusive),
    but a record whose key is a line id seen before (a copy Flume re-sent) only once."""
    seen_ids: set[bytes] = set()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "logstream-accounting",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        wanted = {p: end[p] for p in end if end[p] > start.get(p, 0)}
        consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in wanted])
        while wanted:
            message = consumer.poll(10)
            if message is None:
                raise TimeoutError(f"Kafka sent nothing for 10 s; still waiting for {wanted}")
            if message.error():
                if message.error().code() == -191:  # _PARTITION_EOF
                    continue
                raise RuntimeError(f"Kafka: {message.error()}")
            partition, offset = message.partition(), message.offset()
            if partition in wanted and offset < wanted[partition]:
                key = message.key()
                if key is None or line_id(key) is None or key not in seen_ids:
                    if key is not None:
                        seen_ids.add(key)
                    yield message.value() or b""
                if offset + 1 >= wanted[partition]:
                    del wanted[partition]
    finally:
        consumer.close()


def hdfs_lines(client, root: str, topic: str, hours: Iterable[str]) -> Iterable[bytes]:
    """The entry lines the HadoopConsumer landed for ``hours`` (quarantined records have no trustworthy
    host or hour: they are counted by :func:`kafka_lines`' malformed count instead)."""
    for key in sorted(set(hours)):
        dt, hour = dt_and_hour(key)
        folder = f"{root}/{topic}/dt={dt}/hour={hour}"
        if client.status(folder, strict=False) is None:
            continue
        for name in sorted(client.list(folder)):
            if name.startswith(("_", ".")):
                continue
            with client.read(f"{folder}/{name}") as reader:
                yield from reader.read().split(b"\n")[:-1]


def hive_counts(query: Callable[[str], Sequence[Sequence]], database: str, topic: str, hours: Iterable[str]) -> Counter:
    """The hours' ``records_per_host`` reports (current versions)."""
    return Counter({(host, key): records for key in sorted(set(hours))
                    for host, records in offline_host_counts(query, database, topic, key).items()})


def storm_counts(query: Callable[[str, Sequence], Sequence[Sequence]], topic: str, hours: Iterable[str]) -> Counter:
    """The topology's per-host panes summed per hour (records past the allowed lateness are in no host)."""
    return Counter({(host, key): records for key in sorted(set(hours))
                    for host, records in online_host_counts(query, topic, key).items()})


@dataclass(frozen=True)
class HostHour:
    host: str
    hour: str
    counts: tuple[int | None, ...]  # per hop of ``hops``; None: the hop was not counted
    verdict: str  # "same at every hop", or where it first changed

    def line(self, hops: Sequence[str]) -> str:
        shown = " -> ".join(f"{hop} {count if count is not None else '-'}" for hop, count in zip(hops, self.counts))
        return f"{self.host} {self.hour}: {shown}: {self.verdict}"


def account(counts_by_hop: Mapping[str, Counter | None], hops: Sequence[str] = HOPS) -> list[HostHour]:
    """Per (host, hour) of any hop, its count at each hop and the first hop where it changed."""
    keys = sorted({key for counts in counts_by_hop.values() if counts for key in counts if key[0] != MALFORMED})
    rows = []
    for key in keys:
        counts = tuple(counts_by_hop[hop].get(key, 0) if counts_by_hop.get(hop) is not None else None for hop in hops)
        rows.append(HostHour(key[0], key[1], counts, _verdict(hops, counts)))
    return rows


# the hop each hop receives from: Storm reads Kafka beside the HadoopConsumer, not after Hive
UPSTREAM = {"Kafka": "host files", "HDFS": "Kafka", "Hive": "HDFS", "Storm": "Kafka"}


def _verdict(hops: Sequence[str], counts: Sequence[int | None]) -> str:
    by_hop = dict(zip(hops, counts))
    notes = []
    for hop in hops:
        count, source = by_hop[hop], UPSTREAM.get(hop)
        while source is not None and by_hop.get(source) is None:  # not counted: compare with the hop before it
            source = UPSTREAM.get(source)
        if count is None or source is None or count == by_hop[source]:
            continue
        before = by_hop[source]
        if hop == "Kafka" and count > before:
            notes.append(f"{count - before} duplicated by Flume (at-least-once: a failover re-sent them)")
        elif hop == "Storm" and count < before:
            notes.append(f"{before - count} in Kafka but in no Storm host count (past the allowed lateness, or lost)")
        elif count < before:
            notes.append(f"{before - count} dropped between {source} and {hop}")
        else:
            notes.append(f"{count - before} more at {hop} than at {source}")
    return "; ".join(notes) or "same at every hop"
