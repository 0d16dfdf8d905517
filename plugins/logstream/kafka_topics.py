"""One topic per business, with the partitions the pipeline config asks for, its records stamped by
the broker's clock (``message.timestamp.type=LogAppendTime``): the consumers judge StartTimes and
bound watermarks by the Kafka timestamp, which a front-end host's or an L2's clock must not set."""

from __future__ import annotations

import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic,
                                   OffsetSpec)

METADATA_TIMEOUT_S = 15.0
# A broker acknowledges create_topics/create_partitions before every metadata answer shows the
# change; callers (and the next ensure_topic) must see the new count.
VISIBLE_TIMEOUT_S = 60.0
# set on every pipeline topic, at creation or afterwards
TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}


class TopicMismatch(RuntimeError):
    """The topic exists with more partitions than configured: Kafka cannot shrink it."""


def ensure_topic(admin: AdminClient, name: str, partitions: int, replication: int = 1) -> str:
    """Create ``name`` or add partitions up to ``partitions``; returns what was done.

    Returns only once the broker's metadata shows ``partitions`` partitions.
    """
    current = partition_count(admin, name)
    if current is None:
        admin.create_topics([NewTopic(name, partitions, replication, config=TOPIC_CONFIG)],
                            request_timeout=METADATA_TIMEOUT_S)[name].result()
        wait_for_partition_count(admin, name, partitions)
        return f"created {name} with {partitions} partitions"
    if current > partitions:
        raise TopicMismatch(
            f"{name} has {current} partitions, the pipeline config says {partitions}; Kafka cannot remove "
            "partitions: set the config to the real count"
        )
    done = f"{name} has its {partitions} partitions"
    if current < partitions:
        admin.create_partitions([NewPartitions(name, partitions)], request_timeout=METADATA_TIMEOUT_S)[name].result()
        wait_for_partition_count(admin, name, partitions)
        done = f"grew {name} from {current} to {partitions} partitions"
    changed = ensure_topic_config(admin, name)
    return done + (f"; set {', '.join(changed)}" if changed else "")


def ensure_topic_config(admin: AdminClient, name: str) -> list[str]:
    """Set :data:`TOPIC_CONFIG` on an existing topic where it differs; the settings changed."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    current = admin.describe_configs([resource], request_timeout=METADATA_TIMEOUT_S)[resource].result()
    wrong = {key: value for key, value in TOPIC_CONFIG.items() if current.get(key) is None or current[key].value != value}
    if wrong:
        entries = [ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in wrong.items()]
        target = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        admin.incremental_alter_configs([target], request_timeout=METADATA_TIMEOUT_S)[target].result()
    return [f"{key}={value}" for key, value in wrong.items()]


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


def log_bounds(admin: AdminClient, topics, timeout_s: float = METADATA_TIMEOUT_S,
               ) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
    """Per topic of ``topics`` that the broker lists, its partitions' (log starts, ends): one metadata
    request and two batched offset requests; a topic the broker does not list is left out, not asked for."""
    listed = admin.list_topics(timeout=timeout_s).topics
    wanted = [TopicPartition(topic, partition) for topic in topics
              if topic in listed and listed[topic].error is None for partition in listed[topic].partitions]
    if not wanted:
        return {}
    bounds: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for side, spec in enumerate((OffsetSpec.earliest(), OffsetSpec.latest())):
        futures = admin.list_offsets({tp: spec for tp in wanted}, request_timeout=timeout_s)
        for tp, future in futures.items():
            bounds.setdefault(tp.topic, ({}, {}))[side][tp.partition] = future.result().offset
    return bounds


def _list_offsets(admin: AdminClient, name: str, partition_ids, spec: OffsetSpec) -> dict[int, int]:
    futures = admin.list_offsets({TopicPartition(name, partition): spec for partition in partition_ids},
                                 request_timeout=METADATA_TIMEOUT_S)
    return {tp.partition: future.result().offset for tp, future in futures.items()}
