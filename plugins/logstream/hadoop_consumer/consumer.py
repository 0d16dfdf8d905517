"""One micro-batch of one topic-partition: offset.dat -> Kafka -> HDFS -> offset.dat, exactly once."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from confluent_kafka import Consumer, KafkaException, TopicPartition
from kazoo.client import KazooClient

from logstream.hadoop_consumer.batch_result import BatchLimits, BatchResult, OffsetOutOfRange
from logstream.hadoop_consumer.inflight_batch import InflightBatch, Manifest, Stager, committed_offset
from logstream.hadoop_consumer.offset_store import FROM_BEGINNING, OffsetStore, PartitionOffset
from logstream.hadoop_consumer.partition_lease import LeaseLost, PartitionLease
from logstream.hadoop_consumer.range_fetch import Fetched, consumer_settings, fetch_range, file_suffix, staged_name
from logstream.hadoop_consumer.split_fetch import UpperRange, UpperRangeFetch, UpperRangeResult
from logstream.hdfs_layout import batch_file_name, hour_dir
from logstream.kafka_partitions import KafkaUnavailable, partition_leaders
from logstream.line_ids import LineDedup, LineRanges
from logstream.zookeeper_sessions import bounded_client

__all__ = ["BatchLimits", "BatchResult", "HadoopConsumer", "KafkaUnavailable", "LeaseLost", "OffsetOutOfRange",
           "split_point"]

log = logging.getLogger(__name__)

# staged files that the split-fetch helper sent start with this
UPPER = "upper-"
# about how many records a batch fetches in the time its helper process takes to start
HELPER_START_RECORDS = 75_000
# a killed consumer's lease expires this long after its last heartbeat
ZOOKEEPER_SESSION_SECONDS = 10.0


def split_point(start: int, end: int) -> int:
    """Where a split batch's own part ends and its helper's begins: about half way, the batch taking
    a little more (it fetches while the helper process starts)."""
    return start + (end - start + min(HELPER_START_RECORDS, (end - start) // 4)) // 2


class HadoopConsumer:
    """Moves one topic-partition's new records into HDFS per call of :meth:`run_batch`.

    :param kafka_config: librdkafka settings (at least ``bootstrap.servers``).
    :param hdfs_client: an ``hdfs`` library client.
    :param root: the HDFS folder of the layout in ``logstream.hdfs_layout``.
    :param zookeeper_hosts: the ZooKeeper ensemble that holds the partitions' leases (``host:port,...``).
    :param lease_wait: how long a batch waits for another consumer of its partition before standing down.
    :param progress: where progress lines go (the Airflow task log, through logging).
    :param session_timeout: the ZooKeeper session's timeout (seconds): how long a paused or cut-off
        holder keeps its lease (ZooKeeper allows 2 to 20 ticks, 4 to 40 s with the stack's 2 s tick).
    """

    def __init__(self, kafka_config: dict, hdfs_client, root: str, *, zookeeper_hosts: str,
                 lease_wait: float = 30.0, progress: Callable[[str], None] = log.info,
                 session_timeout: float = ZOOKEEPER_SESSION_SECONDS) -> None:
        self.kafka_config = consumer_settings(kafka_config)
        self.client = hdfs_client
        self.root = root
        self.store = OffsetStore(hdfs_client, root)
        self.zookeeper_hosts = zookeeper_hosts
        self.lease_wait = lease_wait
        self.session_timeout = session_timeout
        self.progress = progress
        self.sessions: list[KazooClient] = []

    # -- the DataGenerator step -------------------------------------------------------------------
    def partitions(self, topic: str) -> dict[int, str]:
        """Each partition of ``topic`` in Kafka with its leader broker's ``host:port``."""
        consumer = Consumer(self.kafka_config)
        try:
            return partition_leaders(consumer, topic)
        except KafkaException as err:
            raise KafkaUnavailable(f"no metadata for topic {topic!r}: {err}") from err
        finally:
            consumer.close()

    def initialize(self, topic: str) -> list[PartitionOffset]:
        """Create offset.dat (at -1) for every partition that has none, new partitions included."""
        return [self.store.initialize(topic, pid, leader) for pid, leader in self.partitions(topic).items()]

    # -- one micro-batch ---------------------------------------------------------------------------
    def run_batch(self, topic: str, partition: int, limits: BatchLimits = BatchLimits()) -> BatchResult:
        """One batch under the partition's lease; :class:`LeaseLost` if another consumer holds it."""
        with self.leased(topic, partition) as lease:
            return self._run_leased_batch(lease, limits)

    @contextmanager
    def leased(self, topic: str, partition: int) -> Iterator[PartitionLease]:
        """The partition's lease, on a ZooKeeper session of its own (:meth:`cancel` ends it), for a batch
        or a replay: whatever writes a partition's files holds it."""
        zookeeper = bounded_client(self.zookeeper_hosts, self.session_timeout)
        self.sessions.append(zookeeper)
        try:
            zookeeper.start(timeout=ZOOKEEPER_SESSION_SECONDS)
            with PartitionLease(zookeeper=zookeeper, hdfs_client=self.client, root=self.root, topic=topic,
                                partition=partition, wait=self.lease_wait) as lease:
                yield lease
        finally:
            zookeeper.stop()
            zookeeper.close()
            self.sessions.remove(zookeeper)

    def cancel(self) -> None:
        """End the running batches' ZooKeeper sessions (from another thread, e.g. Airflow's on_kill):
        their leases go at once, and each fails its next step's lease check instead of writing on."""
        for zookeeper in list(self.sessions):
            zookeeper.stop()

    def _run_leased_batch(self, lease: PartitionLease, limits: BatchLimits) -> BatchResult:
        topic, partition = lease.topic, lease.partition
        committed = committed_offset(self.store, lease)
        inflight = InflightBatch(self.client, self.store, lease)
        recovery = inflight.recover(committed)
        if recovery != "clean":
            self.progress(f"{topic}[{partition}] recovery: {recovery}")
            committed = committed_offset(self.store, lease)
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
            leader = partition_leaders(consumer, topic).get(partition)
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
                inflight.commit_offset(replace(committed, leader=leader))
            return result

        dedup = LineDedup(LineRanges.from_json(committed.lines))
        with Stager(inflight) as stager:
            fetched, upper = self._fetch_batch(consumer, result, start, end, limits, stager, dedup)
            first = fetched.first if fetched.first is not None else upper and upper.first
            if first is None:
                if result.next_offset > start:  # nothing but control records or copies: move past them
                    inflight.commit_offset(replace(committed, leader=leader, offset=result.next_offset,
                                                   watermark=result.watermark))
                return result
            stager.finish({staged_name(topic, self.root, *key): rows for key, rows in fetched.groups.items()})

        last = upper.last if upper is not None and upper.last is not None else fetched.last
        lines = dedup.covered
        forgotten = lines.forget_idle()
        if forgotten:
            self.progress(f"{topic}[{partition}] forgot the line ids of {len(forgotten):,} host files idle for "
                          f"30 days: {', '.join(forgotten[:5])}{' ...' if len(forgotten) > 5 else ''}")
        manifest = Manifest(topic, partition, first, last, result.next_offset, result.watermark, leader,
                            lines=lines.to_json() if lines.files else "")
        # each process's files are named by the offsets it fetched
        own_files = {staged_name(topic, self.root, *key): key for key in fetched.groups}
        upper_files = {f"{UPPER}{name}": key for name, key in (upper.files.items() if upper else ())}
        for files, fetched_by in ((own_files, fetched), (upper_files, upper)):
            for name, (base, dt, hour) in files.items():
                final_name = batch_file_name(topic, partition, fetched_by.first, fetched_by.last,
                                             file_suffix(base, topic, self.root))
                manifest.files[name] = f"{hour_dir(base, dt, hour)}/{final_name}"
        inflight.seal(manifest)
        inflight.complete(manifest)
        result.files = sorted(manifest.files.values())
        return result

    def _fetch_batch(self, consumer: Consumer, result: BatchResult, start: int, end: int, limits: BatchLimits,
                     stager: Stager, dedup: LineDedup) -> tuple[Fetched, UpperRangeResult | None]:
        """Fetch [start, end) and stage its hour files on the way; a large batch's upper part is
        fetched by a helper process at the same time (split_fetch.py), its counts added to ``result``.
        Each part drops the copies of lines taken before the batch; should the two parts have taken
        the same line (a copy across the split point), the helper's part is left to the next batch,
        which then knows the lower part's lines."""
        topic, partition = result.topic, result.partition

        def stage_hour(key: tuple[str, str, str], rows: list[tuple[int, bytes]]) -> None:
            stager.write(staged_name(topic, self.root, *key), rows)

        def fetch(begin: int, stop: int, own_limits: BatchLimits) -> Fetched:
            return fetch_range(consumer, result, begin, stop, own_limits, root=self.root, hour_done=stage_hour,
                               dedup=dedup, progress=self.progress)

        if end - start < limits.split_from:
            return fetch(start, end, limits), None
        split = split_point(start, end)
        own_limits = replace(limits, max_bytes=limits.max_bytes // 2)
        upper_range = UpperRange(self.kafka_config, self.root, topic, partition, split, end, own_limits.max_bytes,
                                 limits.stall_timeout, result.watermark, os.getpid(), limits.start_time_max_age,
                                 limits.start_time_max_lead, limits.watermark_max_lead, lines=dedup.covered.to_json())
        if not upper_range.can_be_sent():
            self.progress(f"{topic}[{partition}] the Kafka settings hold callbacks, which a helper process cannot "
                          f"get: fetching all {end - start:,} records in this one")
            return fetch(start, end, limits), None
        helper = UpperRangeFetch(upper_range, on_file=lambda name, data: stager.write_data(f"{UPPER}{name}", data),
                                 progress=lambda line: self.progress(f"(helper) {line}"))
        try:
            began = time.monotonic()
            fetched = fetch(start, split, own_limits)
            if result.next_offset < split:  # stopped early at max_bytes: the batch ends here
                return fetched, None
            # the helper started with this part and has less to do: allow it as long again, and a stall
            upper = helper.result(timeout=2 * (time.monotonic() - began) + limits.stall_timeout + 30)
        finally:
            helper.cancel()  # a no-op once it has exited
        self.progress(f"{topic}[{partition}] the helper process fetched offsets {split:,}->{upper.next_offset:,}: "
                      f"{upper.records:,} records ({upper.quarantined:,} quarantined)")
        upper_lines = LineRanges.from_json(upper.taken)
        if dedup.taken.overlaps(upper_lines):
            # its files stay unpublished in the attempt's folder, deleted with it
            self.progress(f"{topic}[{partition}] both processes took a copy of the same line: the batch ends at "
                          f"offset {split:,}, and the next one fetches {split:,}->{upper.next_offset:,} again")
            return fetched, None
        dedup.covered.update(upper_lines)
        result.add_counts(upper.records, upper.bytes, upper.quarantine_reasons, upper.watermark, upper.next_offset)
        return fetched, upper
