"""Topics are created, grown and checked against the pipeline config on the stack's Kafka."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from logstream.kafka_topics import TopicMismatch, ensure_topic, log_bounds
from produced_and_landed import produce_records


def test_create_grow_and_refuse_to_shrink(stack, unique_name):
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    assert ensure_topic(admin, unique_name, 2) == f"created {unique_name} with 2 partitions"
    assert ensure_topic(admin, unique_name, 2) == f"{unique_name} has its 2 partitions"
    assert ensure_topic(admin, unique_name, 4) == f"grew {unique_name} from 2 to 4 partitions"
    assert len(admin.list_topics(unique_name, timeout=10).topics[unique_name].partitions) == 4
    with pytest.raises(TopicMismatch, match="has 4 partitions, the pipeline config says 3"):
        ensure_topic(admin, unique_name, 3)


def test_the_new_count_is_visible_as_soon_as_ensure_topic_returns(stack, unique_name):
    # Each step's metadata is read right after the call, as the next task of a DAG would.
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    ensure_topic(admin, unique_name, 1)
    seen = [len(admin.list_topics(unique_name, timeout=10).topics[unique_name].partitions)]
    for partitions in range(2, 13):
        ensure_topic(admin, unique_name, partitions)
        seen.append(len(admin.list_topics(unique_name, timeout=10).topics[unique_name].partitions))
    assert seen == list(range(1, 13))


def test_records_are_stamped_by_the_brokers_clock_also_on_a_topic_made_before(stack, unique_name):
    """A producer's (a host's, an L2's) clock does not set the Kafka timestamp the consumers judge
    StartTimes and watermarks by: the topic's message.timestamp.type is LogAppendTime."""
    from confluent_kafka import Consumer, Producer, TopicPartition, TIMESTAMP_LOG_APPEND_TIME
    from confluent_kafka.admin import NewTopic
    import time

    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    admin.create_topics([NewTopic(unique_name, 1, 1)])[unique_name].result()  # the broker's default: CreateTime

    assert ensure_topic(admin, unique_name, 1) == (f"{unique_name} has its 1 partitions; "
                                                   "set message.timestamp.type=LogAppendTime")
    assert ensure_topic(admin, unique_name, 1) == f"{unique_name} has its 1 partitions"
    an_hour_ahead = int((time.time() + 3600) * 1000)
    producer = Producer({"bootstrap.servers": stack.config.kafka_bootstrap})
    producer.produce(unique_name, b"x", timestamp=an_hour_ahead)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": stack.config.kafka_bootstrap, "group.id": unique_name})
    try:
        consumer.assign([TopicPartition(unique_name, 0, 0)])
        message = consumer.consume(1, timeout=30)[0]
    finally:
        consumer.close()
    kind, stamp = message.timestamp()
    assert kind == TIMESTAMP_LOG_APPEND_TIME and stamp < an_hour_ahead - 3_000_000


def test_log_bounds_are_each_listed_topics_starts_and_ends_and_leave_out_the_others(stack, unique_name):
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    admin = AdminClient(kafka)
    ensure_topic(admin, unique_name, 2)
    produce_records(kafka, unique_name, 7, partition=1)
    admin.delete_records([TopicPartition(unique_name, 1, 3)])[TopicPartition(unique_name, 1, 3)].result()

    assert log_bounds(admin, [unique_name, f"{unique_name}_missing"]) == {unique_name: ({0: 0, 1: 3}, {0: 0, 1: 7})}
    assert log_bounds(admin, []) == {}
