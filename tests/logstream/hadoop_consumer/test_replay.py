"""Replay against real Kafka and HDFS: a lost hour comes back, nothing lands twice."""

from __future__ import annotations

from logstream.hadoop_consumer.consumer import BatchLimits
from logstream.hadoop_consumer.replay import replay
from log_times import hour_folder
from produced_and_landed import DAY_BOUNDARY, create_topic, drain, landed, produce


def test_replay_restores_a_lost_hour_without_duplicates(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 2)
    sent = produce(kafka_config, unique_name, 3000, partitions=2, bad_ratio=0.0)
    drain(consumer, unique_name, 2, BatchLimits(max_records=400))
    whole_period = (0, 2**62)

    assert [replay(consumer, unique_name, p, *whole_period).restored for p in range(2)] == [0, 0]
    assert landed(hdfs_client, root, unique_name) == sent

    lost_hour = f"{root}/{unique_name}/{hour_folder(DAY_BOUNDARY - 1)}"
    lost = landed(hdfs_client, f"{root}", unique_name)
    hdfs_client.delete(lost_hour, recursive=True)
    lost -= landed(hdfs_client, root, unique_name)
    assert sum(lost.values()) > 500

    restored = [replay(consumer, unique_name, p, *whole_period).restored for p in range(2)]
    assert sum(restored) == sum(lost.values())
    assert landed(hdfs_client, root, unique_name) == sent
    assert [replay(consumer, unique_name, p, *whole_period).restored for p in range(2)] == [0, 0]
