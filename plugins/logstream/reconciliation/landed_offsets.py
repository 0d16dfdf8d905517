"""Proof, from HDFS alone, that every Kafka offset of a partition landed exactly once.

Every file the HadoopConsumer lands is named after its batch: ``<topic>+<partition>+<first>+<last>``
(``hdfs_layout.batch_file_name``), in the data folders (``.log``, one valid entry per line) and in
quarantine (``.tsv``, one rejected record per line). A batch that spans hours has one file of that
name in each hour's folder. So, for each partition, up to the offset committed in ``offset.dat``:

- the batches' ranges must follow each other without a gap, from the first offset Kafka still
  keeps (or earlier) to the committed one;
- the lines of a batch's files, data and quarantine together, must number exactly ``last - first + 1``:
  fewer is a lost record, more a duplicate.

A replay (``hadoop_consumer/replay.py``) restores lost records into files named by the restored
offsets, inside an earlier batch's range; so ranges that overlap are judged together, as one span
whose files must hold exactly one line per offset of the span. (Within one span, a lost record and
a duplicated one would cancel out: the check counts, it does not read offsets out of the lines.)

Batches at or past the committed offset are in flight (published, not yet committed, or left by a
crash that the next batch replays onto the same names): they are counted, not judged.

This assumes what the pipeline's producers do: one Kafka offset per record (no transactions, no
compaction); a topic written transactionally has control records between offsets, which would show
here as missing records.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from logstream.hadoop_consumer.offset_store import FROM_BEGINNING, OffsetStore
from logstream.hdfs_layout import parse_batch_file_name, quarantine_dir, topic_dir

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BatchFile:
    path: str
    partition: int
    first: int
    last: int
    bytes: int


@dataclass
class PartitionAudit:
    """What HDFS shows of one partition, and what is wrong with it (``problems``; none when exact)."""

    topic: str
    partition: int
    committed: int  # the next offset to read, from offset.dat (-1: nothing committed yet)
    kafka_start: int | None  # the first offset Kafka still keeps, when asked
    batches: int = 0
    records: int = 0  # lines in the committed batches' files
    in_flight_batches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "exactly once" if self.exact else f"{len(self.problems)} problem(s): " + "; ".join(self.problems[:5])
        return (f"{self.topic}[{self.partition}]: offsets up to {self.committed} in {self.batches} batches, "
                f"{self.records} records, {self.in_flight_batches} in flight: {state}")


def batch_files(client, root: str, topic: str, progress: Progress = lambda message: None) -> list[BatchFile]:
    """Every batch file of ``topic`` in the data and quarantine folders, all hours."""
    found = []
    for base in (topic_dir(root, topic), quarantine_dir(root, topic)):
        if client.status(base, strict=False) is None:
            continue
        for folder, _, names in client.walk(base, status=True):
            for name, status in names:
                if name.startswith(("_", ".")) or not name.endswith((".log", ".tsv")):
                    continue
                file_topic, partition, first, last = parse_batch_file_name(name)
                if file_topic == topic:
                    found.append(BatchFile(f"{folder[0]}/{name}", partition, first, last, status["length"]))
    progress(f"{topic}: {len(found)} batch files in HDFS")
    return found


def count_lines(client, path: str) -> int:
    with client.read(path) as reader:
        content = reader.read()
    return content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)


def audit_partition(client, topic: str, partition: int, committed: int, files: Iterable[BatchFile], *,
                    kafka_start: int | None = None, progress: Progress = lambda message: None) -> PartitionAudit:
    """Judge one partition's batch files against its committed offset (see the module's doc)."""
    audit = PartitionAudit(topic, partition, committed, kafka_start)
    by_range: dict[tuple[int, int], list[BatchFile]] = defaultdict(list)
    for batch_file in files:
        by_range[(batch_file.first, batch_file.last)].append(batch_file)
    ranges = sorted(by_range)
    judged = [r for r in ranges if committed != FROM_BEGINNING and r[0] < committed]
    audit.in_flight_batches = len(ranges) - len(judged)
    audit.batches = len(judged)
    if committed == FROM_BEGINNING:
        return audit
    if not judged:
        if committed > (kafka_start or 0):
            audit.problems.append(f"offset.dat is at {committed} but no batch file holds any offset below it")
        return audit
    spans = _overlapping_spans(judged)
    start = spans[0][0]
    if kafka_start is not None and start > kafka_start:
        audit.problems.append(f"gap: offsets {kafka_start}..{start - 1} (still in Kafka) never landed")
    expected_next = start
    read, began = 0, time.monotonic()
    for first, last, members in spans:
        if first > expected_next:
            audit.problems.append(f"gap: offsets {expected_next}..{first - 1} are in no batch")
        if last >= committed:
            audit.problems.append(f"batch {first}..{last} runs past the committed offset {committed}")
        span_files = [batch_file for member in members for batch_file in by_range[member]]
        lines = 0
        for batch_file in span_files:
            lines += count_lines(client, batch_file.path)
            read += 1
            if read % 200 == 0:
                progress(f"{topic}[{partition}]: {read} files read, at offset {first}, "
                         f"{read / max(time.monotonic() - began, 1e-9):.0f} files/s")
        offsets = last - first + 1
        if lines != offsets:
            what = "missing" if lines < offsets else "duplicated"
            audit.problems.append(f"offsets {first}..{last}: {lines} records in {len(span_files)} file(s) "
                                  f"for {offsets} offsets ({abs(offsets - lines)} {what})")
        audit.records += lines
        expected_next = last + 1
    if expected_next < committed:
        audit.problems.append(f"gap: offsets {expected_next}..{committed - 1} are committed but in no batch")
    return audit


def _overlapping_spans(ranges: list[tuple[int, int]]) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Sorted ranges merged where they overlap: (first, last, the ranges in it)."""
    spans: list[tuple[int, int, list[tuple[int, int]]]] = []
    for first, last in ranges:
        if spans and first <= spans[-1][1]:
            span_first, span_last, members = spans[-1]
            spans[-1] = (span_first, max(span_last, last), members + [(first, last)])
        else:
            spans.append((first, last, [(first, last)]))
    return spans


def audit_topic(client, root: str, topic: str, partitions: int, *, kafka_starts: Mapping[int, int] | None = None,
                progress: Progress = lambda message: None) -> list[PartitionAudit]:
    """Every partition's audit. ``offset.dat`` is read before the files are listed, so a batch that
    commits meanwhile only adds files past the committed offset (in flight), never a false gap."""
    store = OffsetStore(client, root)
    committed = {}
    for partition in range(partitions):
        stored = store.read(topic, partition)
        committed[partition] = stored.offset if stored is not None else FROM_BEGINNING
    files_by_partition: dict[int, list[BatchFile]] = defaultdict(list)
    for batch_file in batch_files(client, root, topic, progress):
        files_by_partition[batch_file.partition].append(batch_file)
    audits = []
    for partition in range(partitions):
        audit = audit_partition(client, topic, partition, committed[partition], files_by_partition.pop(partition, []),
                                kafka_start=(kafka_starts or {}).get(partition), progress=progress)
        progress(audit.summary())
        audits.append(audit)
    for partition, files in sorted(files_by_partition.items()):
        extra = PartitionAudit(topic, partition, FROM_BEGINNING, None, in_flight_batches=len(files))
        extra.problems.append(f"{len(files)} batch files of partition {partition}, which the topic does not have")
        audits.append(extra)
    return audits
