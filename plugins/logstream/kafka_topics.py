"""One topic per business, with the partitions the pipeline config asks for."""

from __future__ import annotations

import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

METADATA_TIMEOUT_S = 15.0
# A broker acknowledges create_topics/create_partitions before every metadata answer shows the
# change; callers (and the next ensure_topic) must see the new count.
VISIBLE_TIMEOUT_S = 60.0


class TopicMismatch(RuntimeError):
    """The topic exists with more partitions than configured: Kafka cannot shrink it."""


def ensure_topic(admin: AdminClient, name: str, partitions: int, replication: int = 1) -> str:
    """Create ``name`` or add partitions up to ``partitions``; returns what was done.

    Returns only once the broker's metadata shows ``partitions`` partitions.
    """
    current = partition_count(admin, name)
    if current is None:
        admin.create_topics([NewTopic(name, partitions, replication)], request_timeout=METADATA_TIMEOUT_S)[name].result()
        wait_for_partition_count(admin, name, partitions)
        return f"created {name} with {partitions} partitions"
    if current < partitions:
        admin.create_partitions([NewPartitions(name, partitions)], request_timeout=METADATA_TIMEOUT_S)[name].result()
        wait_for_partition_count(admin, name, partitions)
        return f"grew {name} from {current} to {partitions} partitions"
    if current > partitions:
        raise TopicMismatch(
            f"{name} has {current} partitions, the pipeline config says {partitions}; Kafka cannot remove "
            "partitions: set the config to the real count"
        )
    return f"{name} has its {partitions} partitions"


def partition_count(admin: AdminClient, name: str) -> int | None:
    """The topic's partition count in the broker's metadata, None if it does not exist (yet)."""
    described = admin.list_topics(name, timeout=METADATA_TIMEOUT_S).topics.get(name)
    if described is None or described.error is not None:
        return None
    return len(described.partitions)


def wait_for_partition_count(admin: AdminClient, name: str, partitions: int, timeout_s: float = VISIBLE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while (seen := partition_count(admin, name)) != partitions:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: the broker's metadata shows {seen} partitions, not {partitions}, after {timeout_s:.0f} s")
        time.sleep(0.1)


def offsets_at_time(admin: AdminClient, name: str, partitions: int, timestamp_ms: int) -> dict[int, int]:
    """Each partition's first offset stamped at or after ``timestamp_ms``, or its end offset if none is."""
    partition_ids = range(partitions)
    at_time = _list_offsets(admin, name, partition_ids, OffsetSpec.for_timestamp(timestamp_ms))
    missing = [partition for partition, offset in at_time.items() if offset < 0]
    return at_time | (_list_offsets(admin, name, missing, OffsetSpec.latest()) if missing else {})


def _list_offsets(admin: AdminClient, name: str, partition_ids, spec: OffsetSpec) -> dict[int, int]:
    futures = admin.list_offsets({TopicPartition(name, partition): spec for partition in partition_ids},
                                 request_timeout=METADATA_TIMEOUT_S)
    return {tp.partition: future.result().offset for tp, future in futures.items()}
