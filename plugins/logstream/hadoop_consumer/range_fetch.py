"""Fetch one offset range of one partition and file each record by hour: the consumer's hot path.

Used by the batch (``consumer.py``), by the split-fetch helper for the upper part of a large
batch (``split_fetch.py``) and by replay (``replay.py``): all three file records the same way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from logstream.hadoop_consumer.batch_result import BatchLimits, BatchResult, OffsetOutOfRange
from logstream.hadoop_consumer.plain_chunks import split_chunk
from logstream.hdfs_layout import (
    LAST_FILEABLE_SECOND,
    hour_partition,
    line_ids_dir,
    offset_file,
    quarantine_dir,
    quarantine_row,
    topic_dir,
)
from logstream.kafka_partitions import KafkaUnavailable
from logstream.line_ids import COPY, LandedLines, LineDedup, line_id
from logstream.log_entry import InvalidEntry, valid_start_time

PROGRESS_EVERY_SECONDS = 10.0
CONSUME_CHUNK = 20_000

# (folder, dt, hour) -> rows of (offset, line or lines)
HourKey = tuple[str, str, str]


@dataclass
class Fetched:
    """Records read from one partition, grouped by the (folder, dt, hour) they land in."""

    groups: dict[HourKey, list[tuple[int, bytes]]] = field(default_factory=lambda: defaultdict(list))
    first: int | None = None
    last: int | None = None


def consumer_settings(kafka_config: dict) -> dict:
    """The librdkafka settings of every fetch (the batch's and its helper's), from the connection's."""
    settings = {
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
    settings["auto.offset.reset"] = "error"
    return settings


def file_suffix(folder: str, topic: str, root: str) -> str:
    if folder == quarantine_dir(root, topic):
        return "tsv"
    return "ids" if folder == line_ids_dir(root, topic) else "log"


def staged_name(topic: str, root: str, base: str, dt: str, hour: str) -> str:
    """The name in the inflight folder of the file that goes to ``base``'s (dt, hour) folder."""
    return f"{dt}-{hour}.{file_suffix(base, topic, root)}"


def _filing_timestamp_ms(timestamp_ms: int) -> int:
    """Where a quarantined record is filed: its Kafka timestamp; now if it has none, or one that no
    hour folder can hold."""
    if 0 < timestamp_ms <= LAST_FILEABLE_SECOND * 1000:
        return timestamp_ms
    return int(time.time() * 1000)


def _side_index_rows(entries: list[tuple[int, bytes]], landed: LandedLines) -> list[tuple[int, bytes]]:
    """An hour's side index as a group's rows (under its first entry's offset, as the hour file's name)."""
    return [(entries[0][0], row) for row in landed.rows()]


def new_lines_only(messages: list, end: int, dedup: LineDedup) -> tuple[list, list, bool, list | None]:
    """``messages`` split into new ones and copies of lines taken before (by the line ids in their
    keys), whether any has a key, and each file's run when all were taken at once
    (:attr:`LineDedup.chunk_runs`; None when taken record by record). A chunk without any key comes
    back whole, at the cost of one C-level pass over its keys. Messages at or past ``end`` belong to
    the next batch: they are left alone, taken or not."""
    keys = list(map(Message.key, messages))
    if not any(keys):
        return messages, [], False, None
    if (messages[-1].offset() < end and not any(map(Message.error, messages))
            # the newest Kafka timestamp: the last record's (LogAppendTime: the broker's clock), or the first's
            and dedup.keep_all(keys, max(messages[0].timestamp()[1], messages[-1].timestamp()[1]),
                               list(map(Message.offset, messages)))):
        return messages, [], True, dedup.chunk_runs  # each file's lines adjacent and new: taken at once
    kept, copies = [], []
    for message, key in zip(messages, keys):
        if (key is None or message.error() is not None or message.offset() >= end
                or dedup.keep(key, message.timestamp()[1])):
            kept.append(message)
        else:
            copies.append(message)
    return kept, copies, True, None


def fetch_range(consumer: Consumer, result: BatchResult, start: int, end: int, limits: BatchLimits, *, root: str,
                whole_chunks: bool = True, hour_done: Callable[[HourKey, list[tuple[int, bytes]]], None] | None = None,
                dedup: LineDedup | None = None, progress: Callable[[str], None],
                record_lines: dict[int, tuple[str, int, int]] | None = None) -> Fetched:
    """Read [start, end) of the partition into per-hour groups; counts go into ``result``.

    A fetched chunk whose records are all plain entries of one hour is checked and filed whole
    (``whole_chunks``, ``plain_chunks.py``; a group's row then holds several lines and the offset
    of the first); any other chunk goes record by record, with counters in locals and entries filed
    by hour number, the folders' names being made once per hour. Once the fetch has moved past an
    hour, ``hour_done`` gets its group (it may still grow if entries of that hour come late).
    With ``dedup``, a record whose line id was taken before is quarantined as a ``copy``.
    The line ids of each hour's entries go into a group of their own, the hour file's side index
    (``hdfs_layout.line_ids_dir``); ``record_lines``, if given (with ``whole_chunks=False``), gets each entry's line id by offset.
    """
    topic, partition = result.topic, result.partition
    max_age, max_lead = limits.start_time_max_age, limits.start_time_max_lead
    bounds = limits.start_time_bounds
    watermark_max_lead = limits.watermark_max_lead
    fetched = Fetched()
    reasons: dict[str, int] = defaultdict(int)
    entries_by_hour: dict[int, list[tuple[int, bytes]]] = {}
    quarantined = fetched.groups
    quarantine_root = quarantine_dir(root, topic)
    valid_root = topic_dir(root, topic)
    open_hours: set[int] = set()
    lines_by_hour: dict[int, LandedLines] = defaultdict(LandedLines)
    ids_root = line_ids_dir(root, topic)
    handed_ids: dict[int, list[tuple[int, bytes]]] = {}  # the side index rows given to hour_done, by hour
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
        copies = ()
        runs = None
        if dedup is not None:
            messages, copies, keyed, runs = new_lines_only(messages, end, dedup)
        else:
            keyed = any(map(Message.key, messages))
        taken = messages
        chunks, messages = (split_chunk(messages, end, max_age=max_age, max_lead=max_lead)
                            if whole_chunks and messages else ([], messages))
        if keyed and chunks:
            if runs is not None:
                # each hour's side index: the runs of its entries' records, split at the few filed one by one
                left_out = list(map(Message.key, messages))
                for chunk in chunks:
                    lines_by_hour[chunk.hour_number].add_runs_except(
                        runs, left_out, (chunk.first_entry_offset, chunk.last_entry_offset) if len(chunks) > 1 else None)
            else:  # lines taken one by one (copies among them: rare): all go record by record
                chunks, messages = [], taken
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.code() == KafkaError._AUTO_OFFSET_RESET:
                    raise OffsetOutOfRange(
                        f"{topic}[{partition}]: offset {next_offset} is no longer in Kafka ({error}); retention "
                        f"deleted it after the batch started. Nothing was skipped: decide, then set the "
                        f"offset in {offset_file(root, topic, partition)} by hand."
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
            kind, timestamp_ms = message.timestamp()
            try:
                start_time = valid_start_time(value, timestamp_ms if kind else -1, bounds)
            except InvalidEntry as invalid:
                reasons[invalid.reason] += 1
                timestamp_ms = _filing_timestamp_ms(timestamp_ms if kind else -1)
                line = quarantine_row(partition, offset, timestamp_ms, invalid.reason, value)
                quarantined[(quarantine_root, *hour_partition(timestamp_ms // 1000))].append((offset, line))
                continue
            if start_time > watermark:  # at most the record's Kafka timestamp plus the allowed lead
                watermark = max(watermark, min(start_time, timestamp_ms // 1000 + watermark_max_lead))
            hour_rows = entries_by_hour.get(start_time // 3600)
            if hour_rows is None:
                hour_rows = entries_by_hour[start_time // 3600] = []
                open_hours.add(start_time // 3600)
            hour_rows.append((offset, value))
            if keyed:
                found = line_id(message.key())
                if found is not None:
                    lines_by_hour[start_time // 3600].add(*found)
                    if record_lines is not None:
                        record_lines[offset] = found
        for chunk in chunks:
            entries_by_hour.setdefault(chunk.hour_number, []).append((chunk.first_offset, chunk.lines))
            first = chunk.first_offset if first is None else min(first, chunk.first_offset)
            last = chunk.last_offset
            next_offset = last + 1
            records += chunk.records
            size += chunk.bytes
            watermark = max(watermark, min(chunk.newest_start_time, chunk.newest_timestamp_ms // 1000 + watermark_max_lead))
            open_hours.add(chunk.hour_number)
        # copies of lines taken before: quarantined as "copy" (every offset lands in some file)
        for message in copies:
            offset, value = message.offset(), message.value() or b""
            first = offset if first is None else min(first, offset)
            last = offset if last is None else max(last, offset)
            next_offset = max(next_offset, offset + 1)
            records += 1
            size += len(value)
            reasons[COPY] += 1
            kind, timestamp_ms = message.timestamp()
            timestamp_ms = _filing_timestamp_ms(timestamp_ms if kind else -1)
            row = quarantine_row(partition, offset, timestamp_ms, COPY, value)
            quarantined[(quarantine_root, *hour_partition(timestamp_ms // 1000))].append((offset, row))
        if hour_done is not None and chunks:
            for hour_number in sorted(hour for hour in open_hours if hour < chunks[0].hour_number):
                open_hours.discard(hour_number)
                hour_done((valid_root, *hour_partition(hour_number * 3600)), entries_by_hour[hour_number])
                if lines_by_hour.get(hour_number):  # its side index too, written while the fetch goes on
                    handed_ids[hour_number] = _side_index_rows(entries_by_hour[hour_number], lines_by_hour[hour_number])
                    hour_done((ids_root, *hour_partition(hour_number * 3600)), handed_ids[hour_number])
        if now - last_progress > PROGRESS_EVERY_SECONDS:
            last_progress = now
            progress(f"{topic}[{partition}] at offset {next_offset:,} of {end:,}: {records:,} records, "
                     f"{size / 1e6:.1f} MB, {records / (now - began):,.0f} rec/s")
    fetched.first, fetched.last = first, last
    for hour_number, rows in entries_by_hour.items():
        fetched.groups[(valid_root, *hour_partition(hour_number * 3600))] = rows
    for hour_number, landed in lines_by_hour.items():
        if not landed:
            continue
        # one group, hence one file, per hour file with ids: the same name with .ids; the very rows
        # handed over before if no line of the hour came since (the stager then writes it once)
        rows = _side_index_rows(entries_by_hour[hour_number], landed)
        handed = handed_ids.get(hour_number)
        fetched.groups[(ids_root, *hour_partition(hour_number * 3600))] = handed if handed == rows else rows
    result.add_counts(records, size, dict(reasons), watermark, next_offset)
    return fetched
