"""What Kafka says about a topic's partitions: their leaders, and the offset at a moment.

Beside ``kafka_topics.py`` (which creates and grows topics); both are plain confluent-kafka calls.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

METADATA_TIMEOUT_SECONDS = 15


class KafkaUnavailable(RuntimeError):
    """Kafka did not answer, or stopped delivering, within the batch's time limit."""


def partition_leaders(consumer: Consumer, topic: str) -> dict[int, str]:
    """Each partition of ``topic`` with its leader broker's ``host:port``, from Kafka's metadata."""
    metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_SECONDS)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise KafkaUnavailable(f"topic {topic!r} is not in Kafka: {described.error if described else 'absent'}")
    brokers = {broker.id: f"{broker.host}:{broker.port}" for broker in metadata.brokers.values()}
    return {pid: brokers.get(part.leader, "unknown") for pid, part in sorted(described.partitions.items())}


def offset_at(consumer: Consumer, topic: str, partition: int, timestamp_ms: int, *, default: int) -> int:
    """The first offset whose timestamp is at or after ``timestamp_ms`` (``default`` if there is none)."""
    found = consumer.offsets_for_times([TopicPartition(topic, partition, timestamp_ms)],
                                       timeout=METADATA_TIMEOUT_SECONDS)[0]
    return found.offset if found.offset >= 0 else default


def first_offsets(consumer: Consumer, topic: str, partitions: int) -> dict[int, int]:
    """The first offset Kafka still keeps in each partition (retention moves it up)."""
    return {
        partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_SECONDS)[0]
        for partition in range(partitions)
    }


def end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    """Each partition's next offset (where the next record will go), every partition in Kafka's metadata."""
    partitions = partition_leaders(consumer, topic)
    return {
        partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_SECONDS)[1]
        for partition in partitions
    }
