"""Kafka of the local stack, through the Airflow Kafka provider's hooks."""

from __future__ import annotations

import time

from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook
from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook


def test_produce_and_consume_through_provider_hooks(stack, unique_name):
    KafkaAdminClientHook().create_topic([(unique_name, 3, 1)])
    producer = KafkaProducerHook().get_producer()
    sent = [f"192.168.11.{i},1019491,{1795000000 + i},300".encode() for i in range(50)]
    for i, value in enumerate(sent):
        producer.produce(unique_name, value=value, key=str(i % 3).encode())
    # a new topic's leader may take a while to reach the producer on a loaded machine
    assert producer.flush(120) == 0

    consumer = KafkaConsumerHook([unique_name]).get_consumer()
    consumer.subscribe([unique_name])
    received = []
    deadline = time.monotonic() + 120  # joining the group comes first
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=100, timeout=1):
                assert message.error() is None
                received.append(message.value())
    finally:
        consumer.close()
    assert sorted(received) == sorted(sent)

    metadata = KafkaAdminClientHook().get_conn.list_topics(unique_name, timeout=5)
    assert len(metadata.topics[unique_name].partitions) == 3
