"""When an hour of a topic may be reported, and how honestly: complete, or only out of patience.

Each partition's ``offset.dat`` carries a watermark, the largest StartTime landed from it, and the
committed offset. Hour H is complete when every partition's watermark is at or past H's end (an
entry of a later hour has landed from each), or when every partition's committed offset has reached
Kafka's offset for H's end, and in both cases only once H ended ``collection_delay`` ago (the time a
line takes from a host file into Kafka). Otherwise H is reported anyway once ``lateness`` has passed
since its end, and says so: a quiet or stuck partition delays reports by at most that much, and what
it brings later is a restatement.

A front-end host whose clock runs ahead cannot announce an hour early: the consumer moves a
partition's watermark at most to each record's Kafka timestamp plus a small lead
(``BatchLimits.watermark_max_lead``), and the pipeline's topics stamp records with the broker's clock
(``message.timestamp.type=LogAppendTime``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from logstream.log_hours.hours import HOUR, parse_hour_key


class PartitionProgress(Protocol):
    """What a partition's offset.dat says (the HadoopConsumer's ``PartitionOffset`` is one)."""

    partition: int
    offset: int
    watermark: int


class ProgressReader(Protocol):
    """Reads each partition's offset.dat (the HadoopConsumer's ``OffsetStore`` is one)."""

    def read(self, topic: str, partition: int) -> PartitionProgress | None: ...

    def list_partitions(self, topic: str) -> list[int]: ...


# How an hour became reportable (report_runs.completeness). Only the first two mean complete; the
# third is the promise of the lateness bound: reported anyway, a restatement may follow, and it alerts.
WATERMARKS = "watermarks"
OFFSETS = "offsets"
LATENESS_ELAPSED = "lateness_elapsed"
# how long a line takes from its host file into Kafka, at most, in normal operation: the Flume tiers'
# p99 end-to-end delay was 12-21 s in bench/flume_tiers.md (2026-12-05), so a minute
COLLECTION_DELAY = timedelta(seconds=60)


def how_complete(
    key: str,
    offsets: Iterable[PartitionProgress],
    *,
    partitions: int,
    now: datetime,
    lateness: timedelta,
    end_offsets: Mapping[int, int] | None = None,
    collection_delay: timedelta = COLLECTION_DELAY,
) -> str | None:
    """How hour ``key`` may be reported, given each partition's offset.dat read so far; None while it may not.

    ``WATERMARKS``: every partition landed an entry of a later hour. ``OFFSETS``: the hour is over and
    every partition's committed offset reached ``end_offsets`` (per partition, Kafka's first offset
    stamped at or after the hour's end, or its end offset if there is none): everything Kafka
    received before the hour ended has landed (a partition that landed nothing and that Kafka holds
    nothing of included). ``LATENESS_ELAPSED``: neither, but ``lateness`` has
    passed since the hour's end (the consumer is down or a partition is stuck).

    ``partitions`` is the topic's partition count: a partition without an offset.dat has landed
    nothing, so it holds the hour back like any other partition until lateness has passed.
    """
    hour_end = parse_hour_key(key) + HOUR
    progress = {offset.partition: offset for offset in offsets}
    expected = set(range(partitions)) | set(progress)
    collected = now >= hour_end + collection_delay
    if collected and all(partition in progress and progress[partition].watermark >= hour_end.timestamp()
                         for partition in expected):
        return WATERMARKS
    # an offset.dat at -1 (nothing landed yet) is where offset 0 would be: a partition that Kafka holds
    # nothing of (a topic with more partitions than front-end hosts) has landed everything it holds
    if end_offsets is not None and collected and all(
        partition in progress and partition in end_offsets
        and max(progress[partition].offset, 0) >= end_offsets[partition]
        for partition in expected
    ):
        return OFFSETS
    if now >= hour_end + lateness:
        return LATENESS_ELAPSED
    return None


def hour_is_complete(
    key: str,
    offsets: Iterable[PartitionProgress],
    *,
    partitions: int,
    now: datetime,
    lateness: timedelta,
    collection_delay: timedelta = COLLECTION_DELAY,
) -> bool:
    """Whether hour ``key`` may be reported (see :func:`how_complete`)."""
    return how_complete(key, offsets, partitions=partitions, now=now, lateness=lateness,
                        collection_delay=collection_delay) is not None


def read_offsets(store: ProgressReader, topic: str, partitions: int) -> list[PartitionProgress]:
    """The offset.dat of each partition of ``topic`` that has one."""
    found = (store.read(topic, partition) for partition in sorted(set(range(partitions)) | set(store.list_partitions(topic))))
    return [offset for offset in found if offset is not None]
