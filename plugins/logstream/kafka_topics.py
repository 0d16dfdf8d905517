"""One topic per business, with the partitions the pipeline config asks for."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic


class TopicMismatch(RuntimeError):
    """The topic exists with more partitions than configured: Kafka cannot shrink it."""


def ensure_topic(admin: AdminClient, name: str, partitions: int, replication: int = 1) -> str:
    """Create ``name`` or add partitions up to ``partitions``; returns what was done."""
    described = admin.list_topics(name, timeout=15).topics.get(name)
    if described is None or described.error is not None:
        admin.create_topics([NewTopic(name, partitions, replication)])[name].result()
        return f"created {name} with {partitions} partitions"
    current = len(described.partitions)
    if current < partitions:
        admin.create_partitions([NewPartitions(name, partitions)])[name].result()
        return f"grew {name} from {current} to {partitions} partitions"
    if current > partitions:
        raise TopicMismatch(
            f"{name} has {current} partitions, the pipeline config says {partitions}; Kafka cannot remove "
            "partitions: set the config to the real count"
        )
    return f"{name} has its {partitions} partitions"
