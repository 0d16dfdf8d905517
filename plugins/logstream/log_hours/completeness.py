"""When an hour of a topic may be reported: the HadoopConsumer has passed its end, or lateness has elapsed.

Each partition's ``offset.dat`` carries a watermark, the largest StartTime landed from it. Hour H is
complete when every partition's watermark is at or past H's end (an entry of a later hour has
landed from each), or when ``lateness`` has passed since H's end: a quiet or stuck partition delays
reports by at most that much, and what it brings later is a restatement.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from logstream.hadoop_consumer.offset_store import NO_WATERMARK, OffsetStore, PartitionOffset
from logstream.hive.hours import HOUR, parse_hour_key


def hour_is_complete(
    key: str,
    offsets: Iterable[PartitionOffset],
    *,
    partitions: int,
    now: datetime,
    lateness: timedelta,
) -> bool:
    """Whether hour ``key`` is complete, given the parsed offset.dat of each partition read so far.

    ``partitions`` is the topic's partition count: a partition without an offset.dat has landed
    nothing, so it holds the hour back like any other partition until lateness has passed.
    """
    hour_end = parse_hour_key(key) + HOUR
    if now >= hour_end + lateness:
        return True
    watermarks = {offset.partition: offset.watermark for offset in offsets}
    expected = set(range(partitions)) | set(watermarks)
    return all(watermarks.get(partition, NO_WATERMARK) >= hour_end.timestamp() for partition in expected)


def read_offsets(client, root: str, topic: str, partitions: int) -> list[PartitionOffset]:
    """The offset.dat of each partition of ``topic`` that has one (``client``: an ``hdfs`` client)."""
    store = OffsetStore(client, root)
    found = (store.read(topic, partition) for partition in sorted(set(range(partitions)) | set(store.list_partitions(topic))))
    return [offset for offset in found if offset is not None]
