"""Replay: re-land a past period of one partition, writing only the records HDFS lacks."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from logstream.hadoop_consumer.batch_result import BatchLimits, BatchResult, OffsetOutOfRange
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.hadoop_consumer.hdfs_files import delete_tree, exists, move_into_place, read_bytes, write_bytes
from logstream.hadoop_consumer.offset_store import FROM_BEGINNING
from logstream.hadoop_consumer.partition_lease import PartitionLease
from logstream.hadoop_consumer.range_fetch import Fetched, fetch_range, file_suffix
from logstream.hdfs_layout import batch_file_name, hour_dir, inflight_dir, line_ids_dir, parse_batch_file_name, topic_dir
from logstream.kafka_partitions import KafkaUnavailable, offset_at
from logstream.line_ids import LandedLines, LineDedup, LineRanges, parse_landed_row

WHOLE_PERIOD = BatchLimits(max_records=10**12, max_bytes=2**62)


def replay(consumer: HadoopConsumer, topic: str, partition: int, start_ms: int, end_ms: int,
           limits: BatchLimits = WHOLE_PERIOD) -> BatchResult:
    """Re-read records with Kafka timestamps in [start_ms, end_ms) and land those missing from HDFS.

    Only offsets below the committed one are replayed (later ones are the next batch's job). A
    record counts as present when a landed file of its hour folder, for this partition, covers
    its offset; so replaying what is there writes nothing, and replaying after a folder was lost
    restores exactly what was lost. A record whose line (its line id) a file still present holds,
    at another offset, is a copy and is not restored (``copies_not_restored``). The replay holds the partition's lease, as a batch does, so a
    second replay (or a batch) of the partition waits for it and then finds what it restored:
    overlapping replays never land a record twice. Staged files are renamed into place one by one,
    each after a check of the lease, and a killed replay is simply run again.

    :param limits: its StartTime bounds decide validity as the batches' do (the pipeline's).
    """
    with consumer.leased(topic, partition) as lease:
        return _replay_leased(consumer, lease, start_ms, end_ms, limits)


def _replay_leased(consumer: HadoopConsumer, lease: PartitionLease, start_ms: int, end_ms: int,
                   limits: BatchLimits) -> BatchResult:
    client, root, topic, partition = consumer.client, consumer.root, lease.topic, lease.partition
    committed = consumer.store.read(topic, partition)
    if committed is None or committed.offset == FROM_BEGINNING:
        return BatchResult(topic, partition, 0, 0)
    started = time.monotonic()
    kafka = Consumer(consumer.kafka_config)
    try:
        low, high = kafka.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
        # one look-up per timestamp: a request naming the same partition twice answers only once
        first_offset, end_offset = (
            offset_at(kafka, topic, partition, timestamp, default=high) for timestamp in (start_ms, end_ms)
        )
        end_offset = min(end_offset, committed.offset)
        if first_offset < low:
            raise OffsetOutOfRange(
                f"{topic}[{partition}]: the period starts at offset {first_offset}, before Kafka's first kept "
                f"offset {low}: retention deleted part of it and it cannot be replayed."
            )
        result = BatchResult(topic, partition, first_offset, first_offset, high_watermark=high,
                             leader=committed.leader, watermark=committed.watermark)
        record_lines: dict[int, tuple[str, int, int]] = {}
        fetched = (
            # copies of a line within the period are quarantined as the batches did; a copy whose
            # line a file still present holds is left out below
            fetch_range(kafka, result, first_offset, end_offset, limits, root=root, whole_chunks=False,
                        dedup=LineDedup(LineRanges()), progress=consumer.progress, record_lines=record_lines)
            if first_offset < end_offset else Fetched()
        )
    except KafkaException as err:
        raise KafkaUnavailable(f"{topic}[{partition}]: Kafka did not answer: {err}") from err
    finally:
        kafka.close()

    # a folder per lease token: older ones belong to holders that are gone, a newer one cannot exist
    replays = f"{inflight_dir(root, topic, partition)}-replay"
    staging = f"{replays}/{lease.token}"
    for token in client.list(replays) if exists(client, replays) else ():
        if token.isdigit() and int(token) < lease.token:
            delete_tree(client, f"{replays}/{token}")
    restored = 0
    ids_base = line_ids_dir(root, topic)
    for (base, dt, hour), rows in sorted(fetched.groups.items()):
        if base == ids_base:  # made below for the restored entries only
            continue
        folder = hour_dir(base, dt, hour)
        covered = _landed_ranges(client, folder, topic, partition)
        missing = [(offset, line) for offset, line in rows if not any(a <= offset <= b for a, b in covered)]
        if base == topic_dir(root, topic) and missing:
            # a copy whose line an entries file still present holds (at an offset outside the period,
            # or in a file the period's records do not cover) is not restored: only lost lines are
            landed_elsewhere = _lines_of_present_files(client, hour_dir(ids_base, dt, hour), topic, partition, covered)
            copies = [offset for offset, _ in missing
                      if offset in record_lines and landed_elsewhere.covers(*record_lines[offset][:2])]
            if copies:
                dropped = set(copies)
                missing = [(offset, line) for offset, line in missing if offset not in dropped]
                result.copies_not_restored += len(copies)
                consumer.progress(f"replay of {topic}[{partition}] {dt}/{hour}: {len(copies):,} record(s) not restored: "
                                  "copies of lines that files still present hold")
        if not missing:
            continue
        name = batch_file_name(topic, partition, missing[0][0], missing[-1][0], file_suffix(base, topic, root))
        files = {name: (folder, b"\n".join(line for _, line in missing) + b"\n")}
        landed = LandedLines()
        for offset, _ in missing:
            if offset in record_lines:
                landed.add(*record_lines[offset])
        if landed:
            # the side index first: a replay killed between the two renames restores both again
            ids_name = batch_file_name(topic, partition, missing[0][0], missing[-1][0], file_suffix(ids_base, topic, root))
            files = {ids_name: (hour_dir(ids_base, dt, hour), b"\n".join(landed.rows()) + b"\n"), **files}
        for staged, (target, data) in files.items():
            write_bytes(client, f"{staging}/{staged}", data)
        for staged, (target, _) in files.items():
            lease.check("publish")
            move_into_place(client, f"{staging}/{staged}", f"{target}/{staged}")
            result.files.append(f"{target}/{staged}")
        restored += len(missing)
    delete_tree(client, staging)
    result.seconds = time.monotonic() - started
    consumer.progress(f"replay of {topic}[{partition}] offsets {first_offset}->{end_offset}: read {result.records:,}, "
                      f"restored {restored:,} missing records into {len(result.files)} file(s)")
    result.next_offset = end_offset
    result.restored = restored
    return result


def _lines_of_present_files(client, ids_folder: str, topic: str, partition: int,
                            present: list[tuple[int, int]]) -> LineRanges:
    """The lines the side indexes in ``ids_folder`` say this partition's files hold, for the files
    still present (offset ranges ``present``): a side index whose entries file is gone (a lost hour,
    a replay killed between its two renames) vouches for nothing."""
    lines = LineRanges()
    present_files = set(present)
    for name, first, last in _partition_files(client, ids_folder, topic, partition):
        if (first, last) not in present_files:
            continue
        for row in read_bytes(client, f"{ids_folder}/{name}").splitlines():
            if row:
                file, start, end, _ = parse_landed_row(row)
                lines.add(file, start, end)
    return lines


def _landed_ranges(client, folder: str, topic: str, partition: int) -> list[tuple[int, int]]:
    return [(first, last) for _, first, last in _partition_files(client, folder, topic, partition)]


def _partition_files(client, folder: str, topic: str, partition: int) -> list[tuple[str, int, int]]:
    """``(name, first offset, last offset)`` of each batch file of this partition in ``folder``."""
    if not exists(client, folder):
        return []
    files = []
    for name in client.list(folder):
        if name.startswith(("_", ".")):
            continue
        file_topic, file_partition, first, last = parse_batch_file_name(name)
        if (file_topic, file_partition) == (topic, partition):
            files.append((name, first, last))
    return files
