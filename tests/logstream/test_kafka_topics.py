"""Topics are created, grown and checked against the pipeline config on the stack's Kafka."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from logstream.kafka_topics import TopicMismatch, ensure_topic


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
