"""Kafka's metadata as the HadoopConsumer reads it: leaders per partition, the offset at a moment."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.kafka_partitions import KafkaUnavailable, offset_at, partition_leaders


@pytest.fixture
def kafka(stack):
    consumer = Consumer({"bootstrap.servers": stack.config.kafka_bootstrap, "group.id": "kafka-partitions-test"})
    yield consumer
    consumer.close()


def test_leaders_and_offsets_at_moments(stack, kafka, unique_name):
    bootstrap = stack.config.kafka_bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: its futures fail once it is collected
    admin.create_topics([NewTopic(unique_name, 2, 1)])[unique_name].result()
    producer = Producer({"bootstrap.servers": bootstrap})
    # recent timestamps: retention would delete records stamped long ago
    base = int(time.time() * 1000) - 60_000
    for i, timestamp_ms in enumerate((base + 1000, base + 2000, base + 3000)):
        producer.produce(unique_name, b"x%d" % i, partition=1, timestamp=timestamp_ms)
    assert producer.flush(10) == 0

    assert partition_leaders(kafka, unique_name) == {0: bootstrap, 1: bootstrap}
    moments = (base, base + 1500, base + 3000, base + 4000)
    assert [offset_at(kafka, unique_name, 1, moment, default=-7) for moment in moments] == [0, 1, 2, -7]
    assert offset_at(kafka, unique_name, 0, 0, default=-7) == -7


def test_a_missing_topic_is_a_clear_error(kafka, unique_name):
    with pytest.raises(KafkaUnavailable, match=f"topic '{unique_name}' is not in Kafka"):
        partition_leaders(kafka, unique_name)
