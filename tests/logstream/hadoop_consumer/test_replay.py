"""Replay against real Kafka and HDFS: a lost hour comes back, nothing lands twice."""

from __future__ import annotations

import threading
from collections import Counter

from confluent_kafka import Consumer, TopicPartition

from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer
from logstream.hadoop_consumer.replay import replay
from log_times import hour_folder
from produced_and_landed import (DAY_BOUNDARY, create_topic, drain, landed, landed_line_ids, once_each, produce,
                                  valid_line_runs)


def test_replay_restores_a_lost_hour_without_duplicates(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 2)
    sent = produce(kafka_config, unique_name, 3000, partitions=2, bad_ratio=0.0)
    drain(consumer, unique_name, 2, BatchLimits(max_records=400))
    whole_period = (0, 2**62)

    assert [replay(consumer, unique_name, p, *whole_period).restored for p in range(2)] == [0, 0]
    assert landed(hdfs_client, root, unique_name) == sent

    lost_hour = f"{root}/{unique_name}/{hour_folder(DAY_BOUNDARY - 1)}"
    lost = landed(hdfs_client, f"{root}", unique_name)
    hdfs_client.delete(lost_hour, recursive=True)
    lost -= landed(hdfs_client, root, unique_name)
    assert sum(lost.values()) > 500

    restored = [replay(consumer, unique_name, p, *whole_period).restored for p in range(2)]
    assert sum(restored) == sum(lost.values())
    assert landed(hdfs_client, root, unique_name) == sent
    assert [replay(consumer, unique_name, p, *whole_period).restored for p in range(2)] == [0, 0]


def test_replay_restores_a_lost_hour_with_its_side_index(consumer, kafka_config, hdfs_client, root, unique_name):
    """Records with line ids: an hour lost with its side index comes back with both, and the side
    indexes again hold every valid line once."""
    create_topic(kafka_config, unique_name, 1)
    written: dict = {}
    sent = produce(kafka_config, unique_name, 4000, partitions=1, resent_ratio=0.1, line_ids=written)
    drain(consumer, unique_name, 1, BatchLimits(max_records=700))
    expected = valid_line_runs(written)
    assert once_each(landed_line_ids(hdfs_client, root, unique_name)) == (expected, 0)

    for tree in (unique_name, f"_line_ids/{unique_name}"):
        hdfs_client.delete(f"{root}/{tree}/{hour_folder(DAY_BOUNDARY - 1)}", recursive=True)
    indexed, _ = once_each(landed_line_ids(hdfs_client, root, unique_name))
    assert sum(lines for *_, lines in indexed["host0 4242-9a0c31f2"]) < sum(lines for *_, lines in expected[
        "host0 4242-9a0c31f2"]) - 500

    assert replay(consumer, unique_name, 0, 0, 2**62).restored > 500
    assert landed(hdfs_client, root, unique_name) == sent
    assert once_each(landed_line_ids(hdfs_client, root, unique_name)) == (expected, 0)


def test_a_replay_restores_no_copy_of_a_line_that_a_file_still_present_holds(consumer, kafka_config, hdfs_client, root,
                                                                                unique_name):
    """The partition's first 60 lines were sent again at its end (a failover's late copies): the
    batches landed each line once. A replay of the tail alone (from the copies' Kafka timestamp) finds
    the copies in no file's offsets, but their lines in the side index of a file still present:
    nothing is restored. With that file's entries lost and its side index left, the side index
    vouches for nothing: the copies are then the lines' only records and are restored, once."""
    create_topic(kafka_config, unique_name, 1)
    written: dict = {}
    sent = produce(kafka_config, unique_name, 2000, partitions=1, bad_ratio=0.0, resent_ratio=0.0,
                   first_lines_again=60, line_ids=written)
    drain(consumer, unique_name, 1, BatchLimits(max_records=500))
    assert landed(hdfs_client, root, unique_name) == sent
    reader = Consumer({**kafka_config, "group.id": unique_name})
    try:
        end = reader.get_watermark_offsets(TopicPartition(unique_name, 0), timeout=15)[1]
    finally:
        reader.close()
    tail = (_kafka_timestamp_ms(kafka_config, unique_name, end - 60), 2**62)

    result = replay(consumer, unique_name, 0, *tail)
    assert (result.restored, result.copies_not_restored) == (0, 60)
    assert landed(hdfs_client, root, unique_name) == sent

    first_lines = Counter(value for *_, value in written["host0 4242-9a0c31f2"][:60])
    [folder] = {f for f, _, names in hdfs_client.walk(f"{root}/{unique_name}") for name in names
                if any(line in first_lines for line in _lines(hdfs_client, f"{f}/{name}"))}
    hdfs_client.delete(folder, recursive=True)  # its side index in _line_ids stays
    lost = sent - landed(hdfs_client, root, unique_name)
    assert sum(lost.values()) > 60
    result = replay(consumer, unique_name, 0, *tail)
    assert (result.restored, result.copies_not_restored) == (60, 0)
    assert landed(hdfs_client, root, unique_name) == sent - lost + first_lines


def _lines(client, path: str) -> list[bytes]:
    with client.read(path) as reader:
        return reader.read().split(b"\n")[:-1]


def test_overlapping_replays_at_once_land_each_lost_record_once(consumer, kafka_config, hdfs_client, root,
                                                               unique_name, zookeeper_hosts):
    """Two replays of overlapping periods at once, the first one's first write held until the second
    has looked at the lost hour folder (10 s at most): each holds the partition's lease (replay()'s
    ``consumer.leased``), so the second only looks once the first is done and finds what it restored.
    Without the lease both see the folder empty and the records of the overlap land twice."""
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 20_000, partitions=1, bad_ratio=0.0)
    drain(consumer, unique_name, 1)
    for hour in (DAY_BOUNDARY - 1, DAY_BOUNDARY):
        hdfs_client.delete(f"{root}/{unique_name}/{hour_folder(hour)}", recursive=True)
    lost = sent - landed(hdfs_client, root, unique_name)
    assert sum(lost.values()) > 10_000

    looked = threading.Event()
    first = HadoopConsumer(kafka_config, WritesAfter(hdfs_client, looked), root, zookeeper_hosts=zookeeper_hosts)
    second = HadoopConsumer(kafka_config, LooksAt(hdfs_client, looked, f"{root}/{unique_name}/dt="), root,
                            zookeeper_hosts=zookeeper_hosts)
    whole_period, first_half = (0, 2**62), (0, _kafka_timestamp_ms(kafka_config, unique_name, 10_000))
    restored: list[int] = []
    racers = [threading.Thread(target=lambda racer=racer, period=period: restored.append(
        replay(racer, unique_name, 0, *period).restored)) for racer, period in ((first, whole_period),
                                                                                 (second, first_half))]
    racers[0].start()
    first.client.writing.wait(60)  # the first replay holds the lease and is about to write
    racers[1].start()
    for racer in racers:
        racer.join()
    assert sum(restored) == sum(lost.values())
    assert landed(hdfs_client, root, unique_name) == sent


class WritesAfter:
    """An hdfs client whose first write waits until ``looked`` is set, or 10 s."""

    def __init__(self, client, looked: threading.Event) -> None:
        self._client, self._looked, self.writing = client, looked, threading.Event()

    def write(self, *args, **kwargs):
        if not self.writing.is_set():
            self.writing.set()
            self._looked.wait(10)
        return self._client.write(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


class LooksAt:
    """An hdfs client that sets ``looked`` once it has listed or checked a path under ``prefix``."""

    def __init__(self, client, looked: threading.Event, prefix: str) -> None:
        self._client, self._looked, self._prefix = client, looked, prefix

    def _seen(self, path: str) -> None:
        if path.startswith(self._prefix):
            self._looked.set()

    def list(self, path, *args, **kwargs):
        try:
            return self._client.list(path, *args, **kwargs)
        finally:
            self._seen(path)

    def status(self, path, *args, **kwargs):
        try:
            return self._client.status(path, *args, **kwargs)
        finally:
            self._seen(path)

    def __getattr__(self, name):
        return getattr(self._client, name)


def _kafka_timestamp_ms(kafka_config: dict, topic: str, offset: int) -> int:
    reader = Consumer({**kafka_config, "group.id": topic})
    reader.assign([TopicPartition(topic, 0, offset)])
    try:
        [message] = reader.consume(1, timeout=10)
        return message.timestamp()[1]
    finally:
        reader.close()
