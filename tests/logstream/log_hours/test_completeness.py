from __future__ import annotations

from datetime import datetime, timedelta, timezone

from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.log_hours.completeness import OFFSETS, how_complete, hour_is_complete, read_offsets

HOUR = "2026-01-01T05"
END = int(datetime(2026, 1, 1, 6, tzinfo=timezone.utc).timestamp())
LATENESS = timedelta(minutes=30)


def offsets(*watermarks):
    return [PartitionOffset("t", partition, "b:9092", 10, watermark) for partition, watermark in enumerate(watermarks)]


def complete(offsets, *, now, partitions=3):
    return hour_is_complete(HOUR, offsets, partitions=partitions, now=now, lateness=LATENESS)


def test_complete_when_every_partition_passed_the_hours_end():
    soon = datetime(2026, 1, 1, 6, 5, tzinfo=timezone.utc)
    assert complete(offsets(END, END + 7, END + 600), now=soon)
    assert not complete(offsets(END, END - 1, END + 600), now=soon)


def test_watermarks_past_the_end_wait_for_the_collection_delay():
    """A watermark at the hour's end says a record of the next hour landed; lines of the hour may still
    be on their way through the tiers until the collection delay has passed on the clock."""
    passed = offsets(END + 30, END + 30, END + 30)
    assert not complete(passed, now=datetime(2026, 1, 1, 5, 59, 50, tzinfo=timezone.utc))
    assert not complete(passed, now=datetime(2026, 1, 1, 6, 0, 59, tzinfo=timezone.utc))
    assert complete(passed, now=datetime(2026, 1, 1, 6, 1, tzinfo=timezone.utc))


def test_a_partition_without_offset_file_holds_the_hour_back():
    soon = datetime(2026, 1, 1, 6, 5, tzinfo=timezone.utc)
    assert not complete(offsets(END, END), now=soon)
    assert complete(offsets(END, END), now=soon, partitions=2)


def test_a_partition_that_landed_nothing_holds_the_hour_back_only_while_kafka_holds_records_of_it():
    """Offsets: partitions 0 and 1 landed up to Kafka's first offset past the hour's end; partition 2's
    offset.dat is still at -1 (nothing landed): the hour is complete when Kafka holds nothing of
    partition 2 before the hour's end, and not while it holds one record."""
    soon = datetime(2026, 1, 1, 6, 5, tzinfo=timezone.utc)
    progress = [PartitionOffset("t", 0, "b:9092", 120, END - 30), PartitionOffset("t", 1, "b:9092", 80, END - 5),
                PartitionOffset("t", 2, "b:9092", -1, -1)]

    def how(ends: dict[int, int]) -> str | None:
        return how_complete(HOUR, progress, partitions=3, now=soon, lateness=LATENESS, end_offsets=ends)

    assert how({0: 120, 1: 80, 2: 0}) == OFFSETS
    assert how({0: 120, 1: 80, 2: 1}) is None
    assert how({0: 121, 1: 80, 2: 0}) is None


def test_complete_anyway_once_lateness_has_passed():
    assert not complete(offsets(-1, -1, -1), now=datetime(2026, 1, 1, 6, 29, 59, tzinfo=timezone.utc))
    assert complete(offsets(-1, -1, -1), now=datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc))
    assert complete([], now=datetime(2026, 1, 2, tzinfo=timezone.utc))


def test_read_offsets_from_hdfs(stack, unique_name):
    from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

    client = WebHDFSHook().get_conn()
    root = f"/tests/{unique_name}/logs"
    store = OffsetStore(client, root)
    store.write(PartitionOffset("t", 0, "b:9092", 120, END + 3))
    store.write(PartitionOffset("t", 2, "b:9092", 80, END - 3))
    try:
        found = read_offsets(store, "t", partitions=3)
        assert [(o.partition, o.offset, o.watermark) for o in found] == [(0, 120, END + 3), (2, 80, END - 3)]
        assert not complete(found, now=datetime(2026, 1, 1, 6, 5, tzinfo=timezone.utc))
    finally:
        client.delete(f"/tests/{unique_name}", recursive=True)
