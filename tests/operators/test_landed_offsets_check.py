"""The exactly-once check task on what the real HadoopConsumer landed: a summary per partition when
exact, a failure naming the partition and the offsets when a batch's files are gone."""

from __future__ import annotations

import pytest
from produced_and_landed import create_topic, drain, produce

from logstream.hadoop_consumer.batch_result import BatchLimits
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.reconciliation.landed_offsets import batch_files
from operators.landed_offsets import CheckLandedOffsetsOperator, LandedOffsetsError


def test_the_check_passes_on_a_drained_topic_and_fails_naming_a_lost_batch(stack, hdfs_client, unique_name, zookeeper_hosts):
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    root = f"/tests/{unique_name}/logs"
    create_topic(kafka, unique_name, 2)
    produce(kafka, unique_name, 1000, partitions=2, seed=3)
    drain(HadoopConsumer(kafka, hdfs_client, root, zookeeper_hosts=zookeeper_hosts), unique_name, 2, BatchLimits(max_records=200))
    check = CheckLandedOffsetsOperator(task_id="check", topic=unique_name, partitions=2, hdfs_root=root)

    assert check.execute({}) == [
        f"{unique_name}[{p}]: offsets up to 500 in 3 batches, 500 records, 0 in flight: exactly once" for p in (0, 1)
    ]

    lost = max((f for f in batch_files(hdfs_client, root, unique_name) if f.partition == 1), key=lambda f: f.first)
    for f in batch_files(hdfs_client, root, unique_name):
        if (f.partition, f.first) == (1, lost.first):
            hdfs_client.delete(f.path)
    with pytest.raises(LandedOffsetsError, match=rf"{unique_name}\[1\]: gap: offsets {lost.first}..499 are committed but in no batch"):
        check.execute({})
