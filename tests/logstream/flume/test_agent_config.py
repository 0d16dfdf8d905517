"""Rendering the agents from include/flume/*.j2: what Flume will read, and errors that name the problem."""

from __future__ import annotations

from dataclasses import replace

import pytest

from logstream.flume.agent_config import (AgentPlacement, FlumeConfigError, host_partitions, render_agents,
                                          write_agent_configs)
from logstream.pipeline_config import FlumeHost, FlumeSettings, PipelineConfig, TopicConfig


def java_properties(text: str) -> dict[str, str]:
    """What java.util.Properties reads from the simple ``key = value`` lines we render."""
    pairs = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip().replace("\\\\", "\\")
    return pairs


@pytest.fixture
def pipeline() -> PipelineConfig:
    return PipelineConfig(
        topics=(TopicConfig("web_logs", 2), TopicConfig("vpn_logs", 1)),
        flume=FlumeSettings(hosts=(FlumeHost("front1", "web_logs", "hosts/front1"),
                                   FlumeHost("front2", "vpn_logs", "/var/log/vpn")),
                            l2_agents=("agg1", "agg2"), batch_size=500),
    )


@pytest.fixture
def placement(tmp_path) -> AgentPlacement:
    (tmp_path / "hosts" / "front1").mkdir(parents=True)
    return AgentPlacement(kafka_bootstrap="k:9092", hosts_root=tmp_path, state_root=tmp_path / "state",
                          avro_base_port=5000, metrics_base_port=6000)


def test_l1_tails_its_host_with_topic_and_event_id_and_fails_over_between_l2s(pipeline, placement, tmp_path):
    agents = render_agents(pipeline, placement, check_log_dirs=False)
    assert [(a.name, a.tier, a.metrics_port, a.avro_port) for a in agents] == [
        ("agg1", "l2", 6000, 5000), ("agg2", "l2", 6001, 5001), ("front1", "l1", 6002, None), ("front2", "l1", 6003, None)]
    front1 = java_properties(agents[2].properties)
    assert front1["front1.sources.tail.type"] == "TAILDIR"
    assert front1["front1.sources.tail.filegroups.logs"] == f"{tmp_path}/hosts/front1/.*\\.log(\\.[0-9]+)?"
    assert front1["front1.sources.tail.headers.logs.topic"] == "web_logs"
    assert front1["front1.sources.tail.byteOffsetHeader"] == "true"
    assert front1["front1.sources.tail.fileHeader"] == "true"
    assert front1["front1.sources.tail.headers.logs.host"] == "front1"
    # all of a host's lines go to one partition of its topic: the topic's hosts take them in turn
    assert front1["front1.sources.tail.headers.logs.partition"] == "0"
    assert front1["front1.channels.memory.type"] == "memory"
    assert front1["front1.sinks"].split() == ["to_agg1", "to_agg2"]
    assert front1["front1.sinks.to_agg2.port"] == "5001"
    assert front1["front1.sinkgroups.failover.processor.type"] == "failover"
    assert int(front1["front1.sinkgroups.failover.processor.priority.to_agg1"]) > int(
        front1["front1.sinkgroups.failover.processor.priority.to_agg2"])
    front2 = java_properties(agents[3].properties)
    assert front2["front2.sources.tail.filegroups.logs"].startswith("/var/log/vpn/")
    # host i prefers L2 i (every L2 carries load), the others are its failover
    assert int(front2["front2.sinkgroups.failover.processor.priority.to_agg2"]) > int(
        front2["front2.sinkgroups.failover.processor.priority.to_agg1"])
    assert [a.primary_sink for a in agents] == [None, None, "to_agg1", "to_agg2"]


def test_each_l1_takes_refilled_lines_on_its_own_port_into_its_channel_and_may_keep_them_in_a_file(pipeline,
                                                                                                  placement):
    agents = render_agents(pipeline, placement, check_log_dirs=False)
    front1 = java_properties(agents[2].properties)
    assert [a.refill_port for a in agents] == [None, None, 7002, 7003]  # metrics port + 1000
    assert front1["front1.sources"].split() == ["tail", "refill"]
    assert (front1["front1.sources.refill.type"], front1["front1.sources.refill.port"],
            front1["front1.sources.refill.channels"]) == ("thrift", "7002", "memory")
    # the same cut of an oversized line as TAILDIR's
    assert front1["front1.sources.refill.interceptors.oversized.searchPattern"] == front1[
        "front1.sources.tail.interceptors.oversized.searchPattern"]

    durable = replace(pipeline, flume=replace(pipeline.flume, l1_channel="file"))
    front1 = java_properties(render_agents(durable, placement, check_log_dirs=False)[2].properties)
    assert front1["front1.channels"] == "file" and "front1.channels.memory.type" not in front1
    assert front1["front1.channels.file.checkpointDir"] == f"{placement.state_root}/front1/checkpoint"
    assert {front1[f"front1.{part}"] for part in ("sources.tail.channels", "sources.refill.channels",
                                                  "sinks.to_agg1.channel", "sinks.to_agg2.channel")} == {"file"}


def test_the_hosts_of_a_topic_take_its_partitions_in_turn(pipeline):
    hosts = (*pipeline.flume.hosts, FlumeHost("front3", "web_logs", "h3"), FlumeHost("front4", "vpn_logs", "h4"),
             FlumeHost("front5", "web_logs", "h5"))
    placed = host_partitions(replace(pipeline, flume=replace(pipeline.flume, hosts=hosts)))
    # web_logs has 2 partitions: front1, front3, front5 -> 0, 1, 0; vpn_logs has 1
    assert placed == {"front1": 0, "front2": 0, "front3": 1, "front4": 0, "front5": 0}


def test_l2_has_its_own_file_channel_and_routes_by_topic_with_acks_all(pipeline, placement, tmp_path):
    agg2 = java_properties(render_agents(pipeline, placement, check_log_dirs=False)[1].properties)
    assert agg2["agg2.sources.avro.port"] == "5001"
    assert agg2["agg2.channels.file.type"] == "file"
    assert agg2["agg2.channels.file.checkpointDir"] == f"{tmp_path}/state/agg2/checkpoint"
    assert agg2["agg2.channels.file.dataDirs"] == f"{tmp_path}/state/agg2/data"
    assert agg2["agg2.sinks.kafka0.kafka.producer.acks"] == "all"
    assert agg2["agg2.sinks.kafka0.flumeBatchSize"] == "500"
    assert agg2["agg2.sinks.kafka0.topicHeader"] == "topic"
    # the L1's line id is the record's key, its partition header the record's partition; no header travels
    assert agg2["agg2.sinks.kafka0.partitionIdHeader"] == "partition"
    assert not [key for key in agg2 if ".header." in key]


def test_every_problem_is_named(pipeline, placement, tmp_path):
    broken = replace(pipeline, flume=replace(pipeline.flume, hosts=(
        FlumeHost("front1", "web_logs", "hosts/front1"), FlumeHost("front3", "mail_logs", "hosts/front3"))))
    with pytest.raises(FlumeConfigError) as error:
        render_agents(broken, placement, port_is_free=lambda port: port not in (5001, 6002))
    assert str(error.value) == (
        "cannot render the Flume agents: host 'front3': unknown topic 'mail_logs' (the pipeline has "
        f"['vpn_logs', 'web_logs']); host 'front3': log directory {tmp_path}/hosts/front3 does not exist; "
        "agent 'agg2': Avro port 5001 is in use by another program; "
        "agent 'front1': metrics port 6002 is in use by another program")


def test_only_changed_files_are_rewritten(pipeline, placement, tmp_path):
    agents = render_agents(pipeline, placement, check_log_dirs=False)
    conf = tmp_path / "conf"
    assert write_agent_configs(agents, conf) == ["agg1", "agg2", "front1", "front2"]
    assert write_agent_configs(agents, conf) == []
    bigger = render_agents(replace(pipeline, flume=replace(pipeline.flume, batch_size=2000)), placement,
                           check_log_dirs=False)
    assert write_agent_configs(bigger, conf) == ["agg1", "agg2", "front1", "front2"]
    assert sorted(p.name for p in conf.iterdir()) == [f"{n}.properties" for n in ("agg1", "agg2", "front1", "front2")]
