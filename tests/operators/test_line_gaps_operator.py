"""The gap task on Flume tiers of its own: lines held in an L1 whose L2s are down are a gap once the
delay is over; the task refills them through that L1 and fails naming them; when the L2s come back
every line lands once (the refilled copies are dropped) and the next run passes."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from airflow.exceptions import AirflowException

from flume_hosts import HostFiles
from online_stats import wait_for
from produced_and_landed import drain, landed, quarantine_reasons
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.flume.metrics import read_metrics
from operators.line_gaps import RefillLineGapsOperator


@pytest.fixture
def tiers(own_deployment):
    return own_deployment(slot=7, gap_delay_minutes=0)


def test_lines_held_by_an_l1_without_l2s_are_refilled_once_named_and_land_once(tiers, stack, hdfs_client,
                                                                               zookeeper_hosts):
    topic = tiers.pipeline.topics[0].name
    root = f"/tests/{topic}/logs"
    hosts = [HostFiles(host=agent.name, log_dir=agent.log_dir) for agent in tiers.agents if agent.tier == "l1"]
    held = hosts[0]
    consumer = HadoopConsumer({"bootstrap.servers": stack.config.kafka_bootstrap}, hdfs_client, root,
                              zookeeper_hosts=zookeeper_hosts, progress=lambda line: None)
    l2_agents = list(tiers.pipeline.flume.l2_agents)
    try:
        tiers.stop(l2_agents)
        held.append("app.log", [f"10.9.0.{i % 250},7,{int(time.time()) - 600 + i},60 held#{i}".encode()
                                for i in range(1_500)])
        wait_for(lambda: read_metrics(held.host, tiers.metrics_url(held.host)).total("CHANNEL", "ChannelSize") >= 1_500,
                 300, f"{held.host}'s channel to hold every line")
        file_id = next(iter(held.expected))[1]
        end = max(held.ends.values())

        with pytest.raises(AirflowException) as error:
            RefillLineGapsOperator(task_id="refill_gaps", topic=topic).execute({})

        assert f"refilled (lines were missing): {held.host} file {file_id}" in str(error.value)
        assert f"bytes [0, {end})" in str(error.value)
        assert read_metrics(held.host, tiers.metrics_url(held.host)).total("SOURCE", "EventAcceptedCount") >= 3_000

        for name in l2_agents:
            tiers.start(name)
        copies = lambda: sum(reason == "copy" for reason in quarantine_reasons(hdfs_client, root, topic).values())
        wait_for(lambda: drain(consumer, topic, tiers.pipeline.topics[0].partitions) is not None and copies() >= 1_500,
                 300, "both copies of the held lines to arrive")
        assert landed(hdfs_client, root, topic) == Counter(held.expected.values())

        summary = RefillLineGapsOperator(task_id="refill_gaps", topic=topic).execute({})
        assert summary.startswith("1 host files: 0 gap(s)")
    finally:
        hdfs_client.delete(f"/tests/{topic}", recursive=True)
