"""The HadoopConsumer hook: a consumer built from the stack's Kafka, WebHDFS and ZooKeeper connections."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from hooks.hadoop_consumer import HadoopConsumerHook


def test_the_hook_builds_a_consumer_that_moves_a_partition(stack, hdfs_client, unique_name):
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})  # kept: its futures need it
    admin.create_topics([NewTopic(unique_name, 2, 1)])[unique_name].result()
    hook = HadoopConsumerHook(hdfs_root=f"/tests/{unique_name}/logs")

    assert hook.zookeeper_hosts() == f"{stack.config.host}:{stack.config.ports['zookeeper']}"
    consumer = hook.get_conn
    assert consumer.kafka_config["bootstrap.servers"] == stack.config.kafka_bootstrap
    assert [offset.offset for offset in consumer.initialize(unique_name)] == [-1, -1]
    result = consumer.run_batch(unique_name, 1)
    assert (result.records, result.next_offset) == (0, 0)
    assert hdfs_client.status(f"/tests/{unique_name}/logs/_offsets/{unique_name}/1/fence", strict=False) is not None
