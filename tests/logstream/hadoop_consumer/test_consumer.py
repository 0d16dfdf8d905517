"""The HadoopConsumer against real Kafka and HDFS: exact multisets, offsets, partitions, retention, replay."""

from __future__ import annotations

from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from logstream.hadoop_consumer.consumer import BatchLimits, BatchResult, HadoopConsumer, OffsetOutOfRange, split_point
from logstream.hdfs_layout import parse_batch_file_name
from logstream.log_entry import InvalidEntry, entry_start_time
from logstream.hadoop_consumer.offset_store import OffsetFileError

from produced_and_landed import DAY_BOUNDARY, HOUR, create_topic, drain, landed, produce


def test_batches_land_every_record_exactly_once(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 3)
    sent = produce(kafka_config, unique_name, 6000, partitions=3)

    assert drain(consumer, unique_name, 3, BatchLimits(max_records=700)) >= 9
    assert landed(hdfs_client, root, unique_name) == sent
    # nothing new: another round lands nothing and moves nothing
    again = [consumer.run_batch(unique_name, p) for p in range(3)]
    assert [r.records for r in again] == [0, 0, 0]
    assert landed(hdfs_client, root, unique_name) == sent

    offsets = [consumer.store.read(unique_name, p) for p in range(3)]
    assert [o.offset for o in offsets] == [2000, 2000, 2000]
    assert all(o.leader == kafka_config["bootstrap.servers"] for o in offsets)
    assert all(o.watermark >= DAY_BOUNDARY for o in offsets)
    assert hdfs_client.status(f"{root}/_inflight/{unique_name}/0", strict=False) is None


def test_hour_folders_follow_start_time_and_quarantine_keeps_reasons(consumer, kafka_config, hdfs_client, root,
                                                                     unique_name):
    create_topic(kafka_config, unique_name, 1)
    good = [f"10.1.1.{i},77,{DAY_BOUNDARY - 60 + i},300".encode() for i in range(120)]
    # among entries in time order (checked a chunk at a time), records that must go one by one
    bad = [b"\xff\xfegarbage", b"10.1.1.1,77,notatime,300", b"x" * 5000,
           f"10.1.1.1,77,{DAY_BOUNDARY},300\x1e".encode(), f"10.1.1.1,77,{DAY_BOUNDARY},300\n1,2,3,4".encode()]
    producer = Producer(kafka_config)
    for value in good[:90] + bad + good[90:]:
        producer.produce(unique_name, value)
    producer.flush(10)

    result = consumer.run_batch(unique_name, 0)
    assert (result.records, result.valid, result.quarantined) == (125, 120, 5)
    assert result.quarantine_reasons == {"not_text": 1, "bad_start_time": 1, "oversized": 1, "control_characters": 2}
    before = hdfs_client.list(f"{root}/{unique_name}/dt=2026-11-28/hour=23")
    after = hdfs_client.list(f"{root}/{unique_name}/dt=2026-11-29/hour=00")
    assert before == after == [f"{unique_name}+0+{0:020d}+{124:020d}.log"]
    with hdfs_client.read(f"{root}/{unique_name}/dt=2026-11-28/hour=23/{before[0]}") as reader:
        assert reader.read() == b"\n".join(good[:60]) + b"\n"
    quarantine = landed(hdfs_client, root, unique_name) - landed(hdfs_client, f"{root}/none", unique_name)
    assert sorted(v for v in quarantine if v not in good) == sorted(bad)


def test_partition_added_midway_is_picked_up(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 1000, partitions=1, seed=2)
    drain(consumer, unique_name, 1)

    admin = AdminClient(kafka_config)
    admin.create_partitions([NewPartitions(unique_name, 3)])[unique_name].result()
    sent += produce(kafka_config, unique_name, 1500, partitions=3, seed=3)
    initialized = consumer.initialize(unique_name)
    assert [(o.partition, o.offset) for o in initialized] == [(0, 1000), (1, -1), (2, -1)]
    drain(consumer, unique_name, 3)
    assert landed(hdfs_client, root, unique_name) == sent


def test_offset_deleted_by_retention_fails_loudly_and_skips_nothing(consumer, kafka_config, unique_name):
    create_topic(kafka_config, unique_name, 1)
    produce(kafka_config, unique_name, 100, partitions=1)
    consumer.run_batch(unique_name, 0, BatchLimits(max_records=10))
    admin = AdminClient(kafka_config)
    for future in admin.delete_records([TopicPartition(unique_name, 0, 50)]).values():
        future.result()

    with pytest.raises(OffsetOutOfRange, match=r"committed offset 10 is outside Kafka's range \[50, 100\]"):
        consumer.run_batch(unique_name, 0)
    assert consumer.store.read(unique_name, 0).offset == 10


def test_offset_deleted_while_the_batch_starts_fails_loudly(consumer, kafka_config, unique_name):
    create_topic(kafka_config, unique_name, 1)
    produce(kafka_config, unique_name, 100, partitions=1)
    admin = AdminClient(kafka_config)
    for future in admin.delete_records([TopicPartition(unique_name, 0, 50)]).values():
        future.result()
    # as if retention deleted offset 10 between the batch's range check and its fetch: Kafka's
    # consumer must not jump to the log's end (its default), which would skip records silently
    result = BatchResult(unique_name, 0, 10, 10)
    kafka = Consumer(consumer.kafka_config)
    try:
        with pytest.raises(OffsetOutOfRange, match=r"offset 10 is no longer in Kafka"):
            consumer._fetch(kafka, result, 10, 100, BatchLimits(stall_timeout=10))
    finally:
        kafka.close()
    assert result.records == 0


def test_a_batch_ending_on_a_transaction_marker_stops_there(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    producer = Producer({**kafka_config, "transactional.id": unique_name})
    producer.init_transactions(30)
    sent = Counter()
    for transaction in range(3):  # 100 records, then a commit marker: offsets 0-99, 100, 101-200, 201, ...
        producer.begin_transaction()
        for i in range(100):
            value = f"10.3.{transaction}.{i},5,{DAY_BOUNDARY + i},60".encode()
            producer.produce(unique_name, value)
            sent[value] += 1
        producer.commit_transaction(30)

    # each batch's last offset is a marker, with records after it: the batch ends at its bound
    first = consumer.run_batch(unique_name, 0, BatchLimits(max_records=101))
    assert (first.records, first.next_offset) == (100, 101)
    assert drain(consumer, unique_name, 1, BatchLimits(max_records=101)) == 2
    assert consumer.store.read(unique_name, 0).offset == 303
    assert landed(hdfs_client, root, unique_name) == sent


def test_kafka_settings_with_callbacks_fetch_in_one_process(kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 3000, partitions=1)
    progress: list[str] = []
    # what Airflow's Kafka hook builds for OAuth and error callbacks: functions, which JSON can't carry
    consumer = HadoopConsumer({**kafka_config, "error_cb": lambda error: progress.append(str(error))},
                              hdfs_client, root, progress=progress.append)

    result = consumer.run_batch(unique_name, 0, BatchLimits(split_from=1000))
    assert result.records == 3000
    assert any("fetching all 3,000 records in this one" in line for line in progress)
    assert len({parse_batch_file_name(path.rsplit("/", 1)[1])[2:] for path in result.files}) == 1
    assert landed(hdfs_client, root, unique_name) == sent


def test_corrupt_offset_file_is_a_clear_error(consumer, kafka_config, hdfs_client, unique_name):
    create_topic(kafka_config, unique_name, 1)
    consumer.initialize(unique_name)
    hdfs_client.write(consumer.store.path(unique_name, 0), data=b"offset=twelve\n", overwrite=True)
    with pytest.raises(OffsetFileError, match="is not a valid offset file"):
        consumer.run_batch(unique_name, 0)


def test_replay_restores_a_lost_hour_without_duplicates(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 2)
    sent = produce(kafka_config, unique_name, 3000, partitions=2, bad_ratio=0.0)
    drain(consumer, unique_name, 2, BatchLimits(max_records=400))
    whole_period = (0, 2**62)

    assert [consumer.replay(unique_name, p, *whole_period).restored for p in range(2)] == [0, 0]
    assert landed(hdfs_client, root, unique_name) == sent

    lost_hour = f"{root}/{unique_name}/dt=2026-11-28/hour=23"
    lost = landed(hdfs_client, f"{root}", unique_name)
    hdfs_client.delete(lost_hour, recursive=True)
    lost -= landed(hdfs_client, root, unique_name)
    assert sum(lost.values()) > 500

    restored = [consumer.replay(unique_name, p, *whole_period).restored for p in range(2)]
    assert sum(restored) == sum(lost.values())
    assert landed(hdfs_client, root, unique_name) == sent
    assert [consumer.replay(unique_name, p, *whole_period).restored for p in range(2)] == [0, 0]


def test_out_of_order_ipv6_and_multiline_records_land_exactly(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    records = [f"10.2.{i % 250}.{i % 7},9,{DAY_BOUNDARY + (i * 7919) % (3 * HOUR) - HOUR},60".encode()
               for i in range(30_000)]
    records[100:100] = [b"2001:db8::7,9,1795909000,60", b" 10.0.0.1 ,9,1795909000,60", b"10.0.0.1,9,1,60\n10.0.0.2,9,1,60"]
    producer = Producer({**kafka_config, "linger.ms": 20})
    for value in records:
        producer.produce(unique_name, value)
    assert producer.flush(30) == 0

    result = consumer.run_batch(unique_name, 0)
    assert (result.records, result.quarantined) == (30_003, 1)
    assert result.watermark == max(int(value.split(b",")[2]) for value in records[:100] + records[103:])
    assert landed(hdfs_client, root, unique_name) == Counter(records)
    assert len(hdfs_client.list(f"{root}/{unique_name}/dt=2026-11-29")) == 2


def test_a_large_batch_split_between_two_processes_lands_each_record_once(consumer, kafka_config, hdfs_client,
                                                                         root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    # time-ordered over three hours, so hours run across the point where the range is split
    sent = produce(kafka_config, unique_name, 200_000, partitions=1, bad_ratio=0.01)
    progress: list[str] = []
    consumer.progress = progress.append

    result = consumer.run_batch(unique_name, 0, BatchLimits(max_records=200_000, split_from=100_000))
    assert (result.records, result.next_offset, result.lag) == (200_000, 200_000, 0)
    assert result.quarantined == sum(count for value, count in sent.items() if not _is_entry(value)) > 1000
    assert sum(result.quarantine_reasons.values()) == result.quarantined
    split = split_point(0, 200_000)
    assert 100_000 < split < 150_000
    assert any(f"the helper process fetched offsets {split:,}->200,000" in line for line in progress)
    assert landed(hdfs_client, root, unique_name) == sent
    assert consumer.store.read(unique_name, 0).offset == 200_000

    # each process's files are named by its own offset range, so the hour the range was split in
    # holds two files that together cover the batch without overlap
    ranges = sorted({parse_batch_file_name(path.rsplit("/", 1)[1])[2:] for path in result.files})
    assert ranges == [(0, split - 1), (split, 199_999)]
    assert max(Counter(path.rsplit("/", 1)[0] for path in result.files).values()) == 2


def test_a_split_batch_that_reaches_max_bytes_first_ends_there(consumer, kafka_config, hdfs_client, root,
                                                               unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 100_000, partitions=1, bad_ratio=0.01)
    limits = BatchLimits(max_records=100_000, split_from=10_000, max_bytes=2_000_000)

    first = consumer.run_batch(unique_name, 0, limits)
    # the batch's own part stopped at max_bytes / 2, before the split: the helper's records are left
    # for later batches, and nothing of them lands twice
    assert 0 < first.next_offset < split_point(0, 100_000)
    assert first.bytes >= 1_000_000 and first.records == first.next_offset
    assert drain(consumer, unique_name, 1, limits) >= 1
    assert landed(hdfs_client, root, unique_name) == sent


def _is_entry(value: bytes) -> bool:
    try:
        entry_start_time(value)
    except InvalidEntry:
        return False
    return True
