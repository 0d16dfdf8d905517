"""One micro-batch of one topic-partition: offset.dat -> Kafka -> HDFS -> offset.dat, exactly once."""

from __future__ import annotations

import base64
import bisect
import logging
import operator
import os
import time
from collections import defaultdict
from collections.abc import Callable
from itertools import compress, repeat
from dataclasses import dataclass, field, replace

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from logstream.hadoop_consumer.inflight_batch import InflightBatch, Manifest, Stager
from logstream.hadoop_consumer.split_fetch import UpperRange, UpperRangeFetch, UpperRangeResult
from logstream.hadoop_consumer.offset_store import FROM_BEGINNING, OffsetStore, PartitionOffset
from logstream.hadoop_consumer.hdfs_files import delete_tree, exists, move_into_place, write_bytes
from logstream.hdfs_layout import (
    batch_file_name,
    hour_dir,
    hour_partition,
    inflight_dir,
    parse_batch_file_name,
    quarantine_dir,
    topic_dir,
)
from logstream.log_entry import RECORD_SEPARATOR, InvalidEntry, entry_start_time, plain_entry_start_times

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 10.0
CONSUME_CHUNK = 20_000
# staged files that the split-fetch helper sent start with this
UPPER = "upper-"
# about how many records a batch fetches in the time its helper process takes to start
HELPER_START_RECORDS = 75_000


class OffsetOutOfRange(RuntimeError):
    """The committed offset is no longer (or not yet) in Kafka: records would be skipped silently."""


class KafkaUnavailable(RuntimeError):
    """Kafka did not answer, or stopped delivering, within the batch's time limit."""


@dataclass(frozen=True)
class BatchLimits:
    max_records: int = 500_000
    max_bytes: int = 256 * 1024 * 1024
    # how long a batch may wait for Kafka without receiving anything before it gives up
    stall_timeout: float = 60.0
    # a batch of at least this many records is fetched by two processes, half each (split_fetch.py)
    split_from: int = 200_000


@dataclass
class BatchResult:
    topic: str
    partition: int
    start_offset: int
    next_offset: int
    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    high_watermark: int = 0
    leader: str = ""
    watermark: int = -1
    recovery: str = "clean"
    # replay only: records that were missing from HDFS and were written again
    restored: int = 0
    files: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add_counts(self, records: int, size: int, quarantine_reasons: dict[str, int], watermark: int,
                   next_offset: int) -> None:
        """Count in a fetched part of the batch: this one's, or the helper's right after it."""
        self.records += records
        self.bytes += size
        for reason, count in quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + count
        self.watermark = max(self.watermark, watermark)
        self.next_offset = next_offset

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())

    @property
    def valid(self) -> int:
        return self.records - self.quarantined

    @property
    def lag(self) -> int:
        return max(self.high_watermark - self.next_offset, 0)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        megabytes = self.bytes / 1e6
        return (
            f"{self.topic}[{self.partition}] offsets {self.start_offset}->{self.next_offset}: "
            f"{self.records:,} records ({self.valid:,} valid, {self.quarantined:,} quarantined "
            f"{self.quarantine_reasons or ''}), {megabytes:.1f} MB in {self.seconds:.1f}s = "
            f"{self.records_per_second:,.0f} rec/s, {megabytes / self.seconds if self.seconds else 0:.1f} MB/s, "
            f"remaining lag {self.lag:,}, leader {self.leader}"
        )


@dataclass
class Fetched:
    """Records read from one partition, grouped by the (folder, dt, hour) they land in."""

    groups: dict[tuple[str, str, str], list[tuple[int, bytes]]] = field(default_factory=lambda: defaultdict(list))
    first: int | None = None
    last: int | None = None


@dataclass(frozen=True)
class _OneHourChunk:
    hour_number: int
    first_offset: int
    last_offset: int
    lines: bytes
    records: int
    bytes: int
    newest_start_time: int


def _separated(values: list[bytes]) -> bytes:
    """``values`` each ended by RECORD_SEPARATOR, as plain_entry_start_times reads them."""
    values.append(b"")  # one join, no copy of the result: the empty last value ends the last record
    try:
        return RECORD_SEPARATOR.join(values)
    finally:
        values.pop()


def _split_chunk(messages: list, end: int) -> tuple[list[_OneHourChunk], list]:
    """Check a fetched chunk at C speed. When its plain entries are in time order (the common case),
    they come back joined, one chunk per hour, and the other messages (anything that is not a plain
    IPv4 entry) come back to be handled one by one; otherwise every message comes back.

    Everything here maps C functions over the chunk (no Python frame per message): this is what
    lets the consumer keep up with Kafka's own.
    """
    if messages[-1].offset() >= end or any(map(Message.error, messages)):
        return [], messages
    values = list(map(Message.value, messages))
    try:
        records = _separated(values)
    except TypeError:  # a record without a value
        return [], messages
    kept, others = messages, []
    if records.count(RECORD_SEPARATOR) != len(values):  # records holding the separator: one by one
        plain = list(map(operator.not_, map(bytes.count, values, repeat(RECORD_SEPARATOR))))
        others = list(compress(messages, map(operator.not_, plain)))
        kept = list(compress(messages, plain))
        values = list(compress(values, plain))
        records = _separated(values)
    start_times = plain_entry_start_times(records)
    if not values or len(start_times) != len(values):
        return [], messages
    if b"" in start_times:
        others += compress(kept, map(operator.not_, start_times))
        values = list(compress(values, start_times))
        start_times = list(filter(None, start_times))
        if not values:
            return [], messages
    first_offset, last_offset = messages[0].offset(), messages[-1].offset()
    # StartTimes of one length compare as numbers: a chunk within one hour needs no int per entry
    if len(set(map(len, start_times))) == 1:
        oldest, newest = int(min(start_times)), int(max(start_times))
        if oldest // 3600 == newest // 3600:
            lines = b"\n".join(values)
            return [_OneHourChunk(oldest // 3600, first_offset, last_offset, lines, len(values),
                                  len(lines) - len(values) + 1, newest)], others
    numbers = list(map(int, start_times))
    hours = list(map(operator.floordiv, numbers, repeat(3600)))
    if hours != sorted(hours):  # entries out of time order: file them one by one
        return [], messages
    chunks = []
    for hour in sorted(set(hours)):
        low, high = bisect.bisect_left(hours, hour), bisect.bisect_right(hours, hour)
        lines = b"\n".join(values[low:high])
        chunks.append(_OneHourChunk(hour, first_offset, last_offset, lines, high - low, len(lines) - (high - low) + 1,
                                    max(numbers[low:high])))
    return chunks, others


def _partition_leaders(consumer: Consumer, topic: str) -> dict[int, str]:
    """Each partition of ``topic`` with its leader broker's ``host:port``, from Kafka's metadata."""
    metadata = consumer.list_topics(topic, timeout=15)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise KafkaUnavailable(f"topic {topic!r} is not in Kafka: {described.error if described else 'absent'}")
    brokers = {broker.id: f"{broker.host}:{broker.port}" for broker in metadata.brokers.values()}
    return {pid: brokers.get(part.leader, "unknown") for pid, part in sorted(described.partitions.items())}


def _offset_at(consumer: Consumer, topic: str, partition: int, timestamp_ms: int, *, default: int) -> int:
    """The first offset whose timestamp is at or after ``timestamp_ms`` (``default`` if there is none)."""
    found = consumer.offsets_for_times([TopicPartition(topic, partition, timestamp_ms)], timeout=15)[0]
    return found.offset if found.offset >= 0 else default


def split_point(start: int, end: int) -> int:
    """Where a split batch's own part ends and its helper's begins: about half way, the batch taking
    a little more (it fetches while the helper process starts)."""
    return start + (end - start + min(HELPER_START_RECORDS, (end - start) // 4)) // 2


def staged_name(topic: str, root: str, base: str, dt: str, hour: str) -> str:
    """The name in the inflight folder of the file that goes to ``base``'s (dt, hour) folder."""
    return f"{dt}-{hour}.{_suffix(base, topic, root)}"


def _suffix(folder: str, topic: str, root: str) -> str:
    return "tsv" if folder == quarantine_dir(root, topic) else "log"


class HadoopConsumer:
    """Moves one topic-partition's new records into HDFS per call of :meth:`run_batch`.

    :param kafka_config: librdkafka settings (at least ``bootstrap.servers``).
    :param hdfs_client: an ``hdfs`` library client.
    :param root: the HDFS folder of the layout in ``logstream.hdfs_layout``.
    :param progress: where progress lines go (the Airflow task log, through logging).
    """

    def __init__(self, kafka_config: dict, hdfs_client, root: str, *,
                 progress: Callable[[str], None] = log.info) -> None:
        self.kafka_config = {
            **kafka_config,
            "group.id": kafka_config.get("group.id", "logstream-hadoop-consumer"),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            # Small fetches, a deep local queue: librdkafka hands over a fetch's first record only
            # once the whole response is parsed, so 1 MB fetches keep the first wait short, and
            # fetching runs ahead of the batch (the default 100,000-record queue would pause it
            # for fetch.queue.backoff.ms, a second, each time it filled).
            "max.partition.fetch.bytes": 1024 * 1024,
            "queued.min.messages": 1_000_000,
            "queued.max.messages.kbytes": 256 * 1024,
            "fetch.queue.backoff.ms": 20,
        }
        # offsets come from offset.dat only: an offset Kafka no longer has (retention deleting it
        # between the range check and the fetch) must fail the batch, not jump ("error", not the
        # default "largest", which would skip records silently)
        self.kafka_config["auto.offset.reset"] = "error"
        self.client = hdfs_client
        self.root = root
        self.store = OffsetStore(hdfs_client, root)
        self.progress = progress

    # -- the DataGenerator step -------------------------------------------------------------------
    def partitions(self, topic: str) -> dict[int, str]:
        """Each partition of ``topic`` in Kafka with its leader broker's ``host:port``."""
        consumer = Consumer(self.kafka_config)
        try:
            return _partition_leaders(consumer, topic)
        except KafkaException as err:
            raise KafkaUnavailable(f"no metadata for topic {topic!r}: {err}") from err
        finally:
            consumer.close()

    def initialize(self, topic: str) -> list[PartitionOffset]:
        """Create offset.dat (at -1) for every partition that has none, new partitions included."""
        return [self.store.initialize(topic, pid, leader) for pid, leader in self.partitions(topic).items()]

    # -- one micro-batch ---------------------------------------------------------------------------
    def run_batch(self, topic: str, partition: int, limits: BatchLimits = BatchLimits()) -> BatchResult:
        committed = self.store.read(topic, partition)
        inflight = InflightBatch(self.client, self.store, topic, partition)
        recovery = inflight.recover(committed)
        if recovery != "clean":
            self.progress(f"{topic}[{partition}] recovery: {recovery}")
            committed = self.store.read(topic, partition)
        if committed is None:
            leader = self.partitions(topic).get(partition)
            if leader is None:
                raise KafkaUnavailable(f"{topic} has no partition {partition}")
            committed = self.store.initialize(topic, partition, leader)

        started = time.monotonic()
        consumer = Consumer(self.kafka_config)
        try:
            result = self._consume(consumer, committed, limits, inflight)
        finally:
            consumer.close()
        result.recovery = recovery
        result.seconds = time.monotonic() - started
        self.progress(result.summary())
        return result

    def _consume(self, consumer: Consumer, committed: PartitionOffset, limits: BatchLimits,
                 inflight: InflightBatch) -> BatchResult:
        topic, partition = committed.topic, committed.partition
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            leader = _partition_leaders(consumer, topic).get(partition)
            if leader is None:
                raise KafkaUnavailable(f"{topic} has no partition {partition}")
        except KafkaException as err:
            raise KafkaUnavailable(f"{topic}[{partition}]: Kafka did not answer: {err}") from err

        if committed.offset != FROM_BEGINNING and not low <= committed.offset <= high:
            raise OffsetOutOfRange(
                f"{topic}[{partition}]: committed offset {committed.offset} is outside Kafka's range "
                f"[{low}, {high}] (retention deleted the records, or the topic was re-created). Nothing was "
                f"skipped: decide, then set the offset in {self.store.path(topic, partition)} by hand."
            )
        start = low if committed.offset == FROM_BEGINNING else committed.offset
        result = BatchResult(topic, partition, start, start, high_watermark=high, leader=leader,
                             watermark=committed.watermark)
        end = min(high, start + limits.max_records)
        if start >= end:
            if committed.leader != leader:
                self.store.write(PartitionOffset(topic, partition, leader, committed.offset, committed.watermark))
            return result

        with Stager(inflight) as stager:
            fetched, upper = self._fetch_batch(consumer, result, start, end, limits, stager)
            first = fetched.first if fetched.first is not None else upper and upper.first
            if first is None:
                if result.next_offset > start:  # nothing but control records: move past them
                    self.store.write(PartitionOffset(topic, partition, leader, result.next_offset, result.watermark))
                return result
            stager.finish({staged_name(topic, self.root, *key): rows for key, rows in fetched.groups.items()})

        last = upper.last if upper is not None and upper.last is not None else fetched.last
        manifest = Manifest(topic, partition, first, last, result.next_offset, result.watermark, leader)
        # each process's files are named by the offsets it fetched
        own_files = {staged_name(topic, self.root, *key): key for key in fetched.groups}
        upper_files = {f"{UPPER}{name}": key for name, key in (upper.files.items() if upper else ())}
        for files, fetched_by in ((own_files, fetched), (upper_files, upper)):
            for name, (base, dt, hour) in files.items():
                final_name = batch_file_name(topic, partition, fetched_by.first, fetched_by.last,
                                             _suffix(base, topic, self.root))
                manifest.files[name] = f"{hour_dir(base, dt, hour)}/{final_name}"
        inflight.seal(manifest)
        inflight.complete(manifest)
        result.files = sorted(manifest.files.values())
        return result

    def _fetch_batch(self, consumer: Consumer, result: BatchResult, start: int, end: int, limits: BatchLimits,
                     stager: Stager) -> tuple[Fetched, UpperRangeResult | None]:
        """Fetch [start, end) and stage its hour files on the way; a large batch's upper part is
        fetched by a helper process at the same time (split_fetch.py), its counts added to ``result``."""
        topic, partition = result.topic, result.partition

        def stage_hour(key: tuple[str, str, str], rows: list[tuple[int, bytes]]) -> None:
            stager.write(staged_name(topic, self.root, *key), rows)

        if end - start < limits.split_from:
            return self._fetch(consumer, result, start, end, limits, hour_done=stage_hour), None
        split = split_point(start, end)
        own_limits = replace(limits, max_bytes=limits.max_bytes // 2)
        upper_range = UpperRange(self.kafka_config, self.root, topic, partition, split, end, own_limits.max_bytes,
                                 limits.stall_timeout, result.watermark, os.getpid())
        if not upper_range.can_be_sent():
            self.progress(f"{topic}[{partition}] the Kafka settings hold callbacks, which a helper process cannot "
                          f"get: fetching all {end - start:,} records in this one")
            return self._fetch(consumer, result, start, end, limits, hour_done=stage_hour), None
        helper = UpperRangeFetch(upper_range, on_file=lambda name, data: stager.write_data(f"{UPPER}{name}", data),
                                 progress=lambda line: self.progress(f"(helper) {line}"))
        try:
            began = time.monotonic()
            fetched = self._fetch(consumer, result, start, split, own_limits, hour_done=stage_hour)
            if result.next_offset < split:  # stopped early at max_bytes: the batch ends here
                return fetched, None
            # the helper started with this part and has less to do: allow it as long again, and a stall
            upper = helper.result(timeout=2 * (time.monotonic() - began) + limits.stall_timeout + 30)
        finally:
            helper.cancel()  # a no-op once it has exited
        self.progress(f"{topic}[{partition}] the helper process fetched offsets {split:,}->{upper.next_offset:,}: "
                      f"{upper.records:,} records ({upper.quarantined:,} quarantined)")
        result.add_counts(upper.records, upper.bytes, upper.quarantine_reasons, upper.watermark, upper.next_offset)
        return fetched, upper

    def _fetch(self, consumer: Consumer, result: BatchResult, start: int, end: int, limits: BatchLimits,
               *, whole_chunks: bool = True,
               hour_done: Callable[[tuple[str, str, str], list[tuple[int, bytes]]], None] | None = None) -> Fetched:
        """Read [start, end) of the partition into per-hour groups; counts go into ``result``.

        This is the consumer's hot path. A fetched chunk whose records are all plain entries of one
        hour is checked and filed whole (``whole_chunks``; a group's row then holds several lines
        and the offset of the first); any other chunk goes record by record, with counters in
        locals and entries filed by hour number, the folders' names being made once per hour.
        Once the fetch has moved past an hour, ``hour_done`` gets its group (it may still grow if
        entries of that hour come late).
        """
        topic, partition = result.topic, result.partition
        fetched = Fetched()
        reasons: dict[str, int] = defaultdict(int)
        entries_by_hour: dict[int, list[tuple[int, bytes]]] = {}
        quarantined = fetched.groups
        quarantine_root = quarantine_dir(self.root, topic)
        valid_root = topic_dir(self.root, topic)
        open_hours: set[int] = set()
        # the first offset itself, even at the log's start: OFFSET_BEGINNING costs a look-up first
        consumer.assign([TopicPartition(topic, partition, start)])
        next_offset, records, size, watermark = start, 0, 0, result.watermark
        first = last = None
        began = last_progress = last_delivery = time.monotonic()
        while next_offset < end and size < limits.max_bytes:
            # never ask for more than is left: consume() waits its whole timeout for a chunk it can't fill
            messages = consumer.consume(num_messages=max(min(CONSUME_CHUNK, end - next_offset), 1), timeout=1.0)
            now = time.monotonic()
            if not messages:
                position = consumer.position([TopicPartition(topic, partition)])[0].offset
                if position >= end:  # only control records (transaction markers) were left below end
                    next_offset = end
                    break
                if now - last_delivery > limits.stall_timeout:
                    raise KafkaUnavailable(
                        f"{topic}[{partition}]: no records for {limits.stall_timeout:.0f}s at offset {next_offset} "
                        f"(expected up to {end}); is the broker reachable?"
                    )
                continue
            last_delivery = now
            chunks, messages = _split_chunk(messages, end) if whole_chunks else ([], messages)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    if error.code() == KafkaError._AUTO_OFFSET_RESET:
                        raise OffsetOutOfRange(
                            f"{topic}[{partition}]: offset {next_offset} is no longer in Kafka ({error}); retention "
                            f"deleted it after the batch started. Nothing was skipped: decide, then set the "
                            f"offset in {self.store.path(topic, partition)} by hand."
                        )
                    raise KafkaUnavailable(f"{topic}[{partition}]: {error}")
                offset = message.offset()
                if offset >= end:  # Kafka delivers in order: everything below end was seen (the rest
                    next_offset = end  # were control records or compacted away)
                    break
                value = message.value() or b""
                if first is None:
                    first = offset
                last = offset
                next_offset = offset + 1
                records += 1
                size += len(value)
                try:
                    start_time = entry_start_time(value)
                except InvalidEntry as invalid:
                    reasons[invalid.reason] += 1
                    kind, timestamp = message.timestamp()
                    timestamp_ms = timestamp if kind and timestamp > 0 else int(time.time() * 1000)
                    dt, hour = hour_partition(timestamp_ms / 1000)
                    line = b"%d\t%d\t%d\t%s\t%s" % (
                        partition, offset, timestamp_ms, invalid.reason.encode(), base64.b64encode(value)
                    )
                    quarantined[(quarantine_root, dt, hour)].append((offset, line))
                    continue
                if start_time > watermark:
                    watermark = start_time
                hour_rows = entries_by_hour.get(start_time // 3600)
                if hour_rows is None:
                    hour_rows = entries_by_hour[start_time // 3600] = []
                    open_hours.add(start_time // 3600)
                hour_rows.append((offset, value))
            for chunk in chunks:
                entries_by_hour.setdefault(chunk.hour_number, []).append((chunk.first_offset, chunk.lines))
                first = chunk.first_offset if first is None else min(first, chunk.first_offset)
                last = chunk.last_offset
                next_offset = last + 1
                records += chunk.records
                size += chunk.bytes
                watermark = max(watermark, chunk.newest_start_time)
                open_hours.add(chunk.hour_number)
            if hour_done is not None and chunks:
                for hour_number in sorted(hour for hour in open_hours if hour < chunks[0].hour_number):
                    open_hours.discard(hour_number)
                    hour_done((valid_root, *hour_partition(hour_number * 3600)), entries_by_hour[hour_number])
            if now - last_progress > PROGRESS_EVERY_SECONDS:
                last_progress = now
                self.progress(
                    f"{topic}[{partition}] at offset {next_offset:,} of {end:,}: {records:,} records, "
                    f"{size / 1e6:.1f} MB, {records / (now - began):,.0f} rec/s"
                )
        fetched.first, fetched.last = first, last
        for hour_number, rows in entries_by_hour.items():
            fetched.groups[(valid_root, *hour_partition(hour_number * 3600))] = rows
        result.add_counts(records, size, dict(reasons), watermark, next_offset)
        return fetched


    # -- replay ------------------------------------------------------------------------------------
    def replay(self, topic: str, partition: int, start_ms: int, end_ms: int,
               limits: BatchLimits = BatchLimits(max_records=10**12, max_bytes=2**62)) -> BatchResult:
        """Re-read records with Kafka timestamps in [start_ms, end_ms) and land those missing from HDFS.

        Only offsets below the committed one are replayed (later ones are the next batch's job). A
        record counts as present when a landed file of its hour folder, for this partition, covers
        its offset; so replaying what is there writes nothing, and replaying after a folder was lost
        restores exactly what was lost. Staged files are renamed into place one by one, and a killed
        replay is simply run again.
        """
        committed = self.store.read(topic, partition)
        if committed is None or committed.offset == FROM_BEGINNING:
            return BatchResult(topic, partition, 0, 0)
        started = time.monotonic()
        consumer = Consumer(self.kafka_config)
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            # one look-up per timestamp: a request naming the same partition twice answers only once
            first_offset, end_offset = (
                _offset_at(consumer, topic, partition, timestamp, default=high) for timestamp in (start_ms, end_ms)
            )
            end_offset = min(end_offset, committed.offset)
            if first_offset < low:
                raise OffsetOutOfRange(
                    f"{topic}[{partition}]: the period starts at offset {first_offset}, before Kafka's first kept "
                    f"offset {low}: retention deleted part of it and it cannot be replayed."
                )
            result = BatchResult(topic, partition, first_offset, first_offset, high_watermark=high,
                                 leader=committed.leader, watermark=committed.watermark)
            fetched = (
                self._fetch(consumer, result, first_offset, end_offset, limits, whole_chunks=False)
                if first_offset < end_offset else Fetched()
            )
        except KafkaException as err:
            raise KafkaUnavailable(f"{topic}[{partition}]: Kafka did not answer: {err}") from err
        finally:
            consumer.close()

        staging = f"{inflight_dir(self.root, topic, partition)}-replay"
        delete_tree(self.client, staging)
        restored = 0
        for (base, dt, hour), rows in sorted(fetched.groups.items()):
            folder = hour_dir(base, dt, hour)
            covered = self._landed_ranges(folder, topic, partition)
            missing = [(offset, line) for offset, line in rows if not any(a <= offset <= b for a, b in covered)]
            if not missing:
                continue
            suffix = _suffix(base, topic, self.root)
            name = batch_file_name(topic, partition, missing[0][0], missing[-1][0], suffix)
            write_bytes(self.client, f"{staging}/{name}", b"\n".join(line for _, line in missing) + b"\n")
            move_into_place(self.client, f"{staging}/{name}", f"{folder}/{name}")
            result.files.append(f"{folder}/{name}")
            restored += len(missing)
        delete_tree(self.client, staging)
        result.seconds = time.monotonic() - started
        self.progress(f"replay of {topic}[{partition}] offsets {first_offset}->{end_offset}: read {result.records:,}, "
                      f"restored {restored:,} missing records into {len(result.files)} file(s)")
        result.next_offset = end_offset
        result.restored = restored
        return result

    def _landed_ranges(self, folder: str, topic: str, partition: int) -> list[tuple[int, int]]:
        if not exists(self.client, folder):
            return []
        ranges = []
        for name in self.client.list(folder):
            if name.startswith(("_", ".")):
                continue
            file_topic, file_partition, first, last = parse_batch_file_name(name)
            if (file_topic, file_partition) == (topic, partition):
                ranges.append((first, last))
        return ranges
