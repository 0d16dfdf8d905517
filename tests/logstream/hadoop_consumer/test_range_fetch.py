"""Fetching one offset range: how it fails, and what it files where."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone
from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from logstream.hadoop_consumer.batch_result import BatchLimits, BatchResult, OffsetOutOfRange
from logstream.hadoop_consumer.range_fetch import fetch_range
from logstream.log_hours.completeness import how_complete, read_offsets
from logstream.log_hours.hours import hour_key
from produced_and_landed import create_topic, landed, produce

DAY = 86400


def test_offset_deleted_while_the_batch_starts_fails_loudly(consumer, kafka_config, root, unique_name):
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
            fetch_range(kafka, result, 10, 100, BatchLimits(stall_timeout=10), root=root, progress=print)
    finally:
        kafka.close()
    assert result.records == 0


def test_a_start_time_far_from_its_kafka_timestamp_is_quarantined_and_blocks_nothing(consumer, kafka_config,
                                                                                    hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent_at = int(time.time())
    limits = BatchLimits(start_time_max_age=10 * DAY, start_time_max_lead=DAY)
    plausible = [f"10.9.0.{i},4,{sent_at - 9 * DAY + i * 3000},300".encode() for i in range(200)]
    implausible = [
        b"1.2.3.4,1,999999999999,300",  # year 33658: no hour folder can hold it
        b"2001:db8::1,1,999999999999999999,300",
        f"10.9.9.9,4,{sent_at - 11 * DAY},300".encode(),
        f"10.9.9.9,4,{sent_at + 2 * DAY},300".encode(),
        b"192.168.11.34,1019491,157892,300",  # the paper's sample: valid, but 1970
    ]
    values = plausible[:100] + implausible + plausible[100:]
    producer = Producer(kafka_config)
    for value in values:  # Kafka stamps them with the send time
        producer.produce(unique_name, value)
    assert producer.flush(10) == 0

    result = consumer.run_batch(unique_name, 0, limits)
    assert (result.records, result.quarantined) == (205, 5)
    assert result.quarantine_reasons == {"implausible_start_time": 5}
    # the watermark moved to the newest plausible StartTime only
    assert result.watermark == consumer.store.read(unique_name, 0).watermark == sent_at - 9 * DAY + 199 * 3000
    assert landed(hdfs_client, root, unique_name) == Counter(values)
    rows = quarantine_rows(hdfs_client, root, unique_name)
    assert sorted(raw for _, raw in rows) == sorted(implausible)
    assert {reason for reason, _ in rows} == {"implausible_start_time"}
    # the partition is not blocked: later records land
    producer.produce(unique_name, f"10.9.0.1,4,{sent_at},300".encode())
    producer.flush(10)
    assert consumer.run_batch(unique_name, 0, limits).records == 1
    assert consumer.store.read(unique_name, 0).offset == 206


def test_bounds_count_from_each_records_own_kafka_timestamp(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    now_ms = int(time.time() * 1000)
    hour_ago = now_ms - 3_600_000
    producer = Producer(kafka_config)
    # one chunk of plain entries, stamped an hour apart by their producer: the same StartTime is
    # plausible for one record and not for the other
    start_time = now_ms // 1000 - 1800
    for i in range(50):
        producer.produce(unique_name, f"10.8.0.{i},4,{start_time},60".encode(), timestamp=now_ms)
    producer.produce(unique_name, f"10.8.1.1,4,{start_time},60".encode(), timestamp=hour_ago)
    assert producer.flush(10) == 0

    result = consumer.run_batch(unique_name, 0, BatchLimits(start_time_max_age=3600, start_time_max_lead=600))
    assert result.quarantine_reasons == {"implausible_start_time": 1}
    assert [raw for _, raw in quarantine_rows(hdfs_client, root, unique_name)] == [
        f"10.8.1.1,4,{start_time},60".encode()]


def test_a_host_writing_an_hour_ahead_moves_no_watermark_past_the_brokers_clock(consumer, kafka_config, hdfs_client,
                                                                              root, unique_name):
    """A front-end host whose clock runs an hour ahead writes plausible StartTimes (inside the 48 h
    lead); they used to move the watermark an hour ahead and announce the current hour complete
    while it was still being written. Without the bound in range_fetch (per record and per chunk)
    the watermark assertion fails; without the collection delay in completeness, so does the last."""
    create_topic(kafka_config, unique_name, 1)
    producer = Producer(kafka_config)
    now = int(time.time())
    on_time = [f"10.8.0.{i % 250},4,{now - 600 + i},60".encode() for i in range(100)]
    # in time order (the chunk path), then one record alone among unordered ones (record by record)
    ahead = [f"10.9.0.{i % 250},4,{now + 3600 + i},60".encode() for i in range(100)]
    alone = [f"10.9.1.1,4,{now + 3700},60".encode(), f"10.9.1.2,4,{now - 5},60".encode()]
    for value in on_time + ahead + alone:
        producer.produce(unique_name, value)
    assert producer.flush(10) == 0
    produced_by = int(time.time())

    result = consumer.run_batch(unique_name, 0)

    assert (result.valid, result.quarantined) == (202, 0)  # the records themselves are plausible
    assert now + 3600 > produced_by + 300
    assert consumer.store.read(unique_name, 0).watermark <= produced_by + BatchLimits.watermark_max_lead
    offsets = read_offsets(consumer.store, unique_name, 1)
    current = hour_key(datetime.fromtimestamp(now, timezone.utc))
    assert how_complete(current, offsets, partitions=1, now=datetime.now(timezone.utc), lateness=timedelta(minutes=30)) \
        is None


def quarantine_rows(client, root: str, topic: str) -> list[tuple[str, bytes]]:
    """(reason, raw value) of every quarantined record, read from the files as Hive would."""
    rows = []
    for folder, _, files in client.walk(f"{root}/_quarantine/{topic}"):
        for name in files:
            with client.read(f"{folder}/{name}") as reader:
                for line in reader.read().decode().splitlines():
                    _, _, _, reason, encoded = line.split("\t")
                    rows.append((reason, base64.b64decode(encoded)))
    return rows
