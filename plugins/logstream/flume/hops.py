"""Hop accounting: how many events each hop accepted and passed on, host files -> L1 -> L2 -> Kafka.

Counts come from the agents' metrics (since each agent's start), the host log files (lines on disk)
and Kafka's end offsets (everything the topic ever received, from any producer). Flume is
at-least-once, so a hop may pass on more than it accepted once (a re-sent batch); fewer means
events are still inside (the channel sizes say how many) or were lost.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from logstream.flume.agent_config import FlumeAgentConfig
from logstream.flume.metrics import AgentMetrics

CHUNK = 1 << 20


@dataclass(frozen=True)
class HopCounts:
    lines_in_files: dict[str, int]  # per L1 agent (host)
    lines: list[str]  # the report, one line per agent and per topic

    def __str__(self) -> str:
        return "\n".join(self.lines)


def count_lines(log_dir: Path, file_pattern: str) -> int:
    """Lines in the host's log files TAILDIR reads (a last line without its newline counts too)."""
    pattern = re.compile(file_pattern)
    total = 0
    for path in sorted(log_dir.iterdir()) if log_dir.is_dir() else []:
        if not path.is_file() or not pattern.fullmatch(path.name):
            continue
        last = b"\n"
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                total += chunk.count(b"\n")
                last = chunk[-1:]
        total += last != b"\n"
    return total


def hop_counts(
    agents: list[FlumeAgentConfig],
    readings: Mapping[str, AgentMetrics | None],
    *,
    file_patterns: Mapping[str, str],
    kafka_end_offsets: Mapping[str, int],
) -> HopCounts:
    """The report for ``agents`` from their latest ``readings`` (None: the agent did not answer).

    :param file_patterns: the TAILDIR file pattern of each L1 agent
    :param kafka_end_offsets: per topic, the sum of its partitions' end offsets
    """
    report: list[str] = []
    in_files: dict[str, int] = {}
    per_topic: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for agent in (agent for agent in agents if agent.tier == "l1"):
        lines = count_lines(agent.log_dir, file_patterns[agent.name]) if agent.log_dir else 0
        in_files[agent.name] = lines
        per_topic[agent.topic]["lines in host files"] += lines
        reading = readings.get(agent.name)
        if reading is None:
            report.append(f"L1 {agent.name} ({agent.topic}): {lines} lines in files -> agent DOWN, no counts")
            continue
        accepted = int(reading.total("SOURCE", "EventAcceptedCount"))
        sent = {sink: int(counters.get("EventDrainSuccessCount", 0)) for sink, counters in sorted(reading.of("SINK").items())}
        held = int(reading.total("CHANNEL", "ChannelSize"))
        per_topic[agent.topic]["accepted by L1s"] += accepted
        per_topic[agent.topic]["sent on by L1s"] += sum(sent.values())
        report.append(
            f"L1 {agent.name} ({agent.topic}): {lines} lines in files -> {accepted} read -> {sum(sent.values())} sent ("
            + ", ".join(f"{sink} {count}" for sink, count in sent.items()) + f"), {held} in its channel"
        )
    for agent in (agent for agent in agents if agent.tier == "l2"):
        reading = readings.get(agent.name)
        if reading is None:
            report.append(f"L2 {agent.name}: agent DOWN, no counts")
            continue
        received = int(reading.total("SOURCE", "EventAcceptedCount"))
        delivered = int(reading.total("SINK", "EventDrainSuccessCount"))
        held = int(reading.total("CHANNEL", "ChannelSize"))
        report.append(f"L2 {agent.name}: {received} received -> {delivered} written to Kafka, {held} in its file channel")
    for topic, counts in sorted(per_topic.items()):
        counts["Kafka end offsets"] = kafka_end_offsets.get(topic, 0)
        report.append(f"topic {topic}: " + " -> ".join(f"{what} {count}" for what, count in counts.items()))
    return HopCounts(lines_in_files=in_files, lines=report)


def kafka_end_offsets(admin: Any, topics: list[str]) -> dict[str, int]:
    """Per topic, the sum of its partitions' end offsets (an ``AdminClient``)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    totals: dict[str, int] = {}
    for topic in topics:
        described = admin.list_topics(topic, timeout=15).topics.get(topic)
        if described is None or described.error is not None:
            totals[topic] = 0
            continue
        wanted = {TopicPartition(topic, partition): OffsetSpec.latest() for partition in described.partitions}
        futures = admin.list_offsets(wanted, request_timeout=15)
        totals[topic] = sum(future.result().offset for future in futures.values())
    return totals
