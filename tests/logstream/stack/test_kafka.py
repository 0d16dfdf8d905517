"""Kafka of the local stack, through the Airflow Kafka provider's hooks."""

from __future__ import annotations

from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook
from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook


def test_produce_and_consume_through_provider_hooks(stack, unique_name):
    KafkaAdminClientHook().create_topic([(unique_name, 3, 1)])
    producer = KafkaProducerHook().get_producer()
    sent = [f"192.168.11.{i},1019491,{1795000000 + i},300".encode() for i in range(50)]
    for i, value in enumerate(sent):
        producer.produce(unique_name, value=value, key=str(i % 3).encode())
    assert producer.flush(10) == 0

    consumer = KafkaConsumerHook([unique_name]).get_consumer()
    consumer.subscribe([unique_name])
    received = []
    try:
        for _ in range(60):
            for message in consumer.consume(num_messages=100, timeout=1):
                assert message.error() is None
                received.append(message.value())
            if len(received) >= len(sent):
                break
    finally:
        consumer.close()
    assert sorted(received) == sorted(sent)

    metadata = KafkaAdminClientHook().get_conn.list_topics(unique_name, timeout=5)
    assert len(metadata.topics[unique_name].partitions) == 3
