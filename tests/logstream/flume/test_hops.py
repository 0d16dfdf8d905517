"""Hop accounting: lines in host files -> L1 -> L2 -> Kafka, per agent and per topic."""

from __future__ import annotations

import json

from logstream.flume.agent_config import AgentPlacement, render_agents
from logstream.flume.hops import count_lines, hop_counts
from logstream.flume.metrics import parse_metrics
from logstream.pipeline_config import FlumeHost, FlumeSettings, PipelineConfig, TopicConfig


def test_lines_are_counted_as_taildir_reads_them(tmp_path):
    (tmp_path / "app.log").write_bytes(b"a\nb\nc\n")
    (tmp_path / "app.log.1").write_bytes(b"old\nlast without newline")
    (tmp_path / "notes.txt").write_bytes(b"not tailed\n")
    assert count_lines(tmp_path, r".*\.log(\.[0-9]+)?") == 5


def test_each_hop_per_agent_and_topic(tmp_path):
    pipeline = PipelineConfig(topics=(TopicConfig("web", 1),), flume=FlumeSettings(
        hosts=(FlumeHost("h1", "web", "h1"), FlumeHost("h2", "web", "h2")), l2_agents=("l2",)))
    for host, lines in (("h1", 7), ("h2", 5)):
        (tmp_path / host).mkdir()
        (tmp_path / host / "app.log").write_bytes(b"x\n" * lines)
    agents = render_agents(pipeline, AgentPlacement(kafka_bootstrap="k:1", hosts_root=tmp_path, state_root=tmp_path,
                                                    avro_base_port=1, metrics_base_port=2))

    def l1(accepted, sent, held):
        return parse_metrics("x", json.dumps({"SOURCE.tail": {"EventAcceptedCount": str(accepted)},
                                              "SINK.to_l2": {"EventDrainSuccessCount": str(sent)},
                                              "CHANNEL.memory": {"ChannelSize": str(held)}}))

    l2 = parse_metrics("l2", json.dumps({"SOURCE.avro": {"EventAcceptedCount": "10"},
                                         "SINK.kafka0": {"EventDrainSuccessCount": "9"},
                                         "CHANNEL.file": {"ChannelSize": "1"}}))
    report = hop_counts(agents, {"l2": l2, "h1": l1(7, 6, 1), "h2": None},
                        file_patterns={"h1": r".*\.log", "h2": r".*\.log"}, kafka_end_offsets={"web": 9})
    assert report.lines == [
        "L1 h1 (web): 7 lines in files -> 7 read -> 6 sent (to_l2 6), 1 in its channel",
        "L1 h2 (web): 5 lines in files -> agent DOWN, no counts",
        "L2 l2: 10 received -> 9 written to Kafka, 1 in its file channel",
        "topic web: lines in host files 12 -> accepted by L1s 7 -> sent on by L1s 6 -> Kafka end offsets 9",
    ]
