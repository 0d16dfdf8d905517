"""One round of the gap finder of a topic: its hosts' files against what the HadoopConsumer took,
the gaps refilled through the hosts' L1 agents, the state kept in HDFS next to the offsets; and the
account of each host file's bytes at every hop (``reconciliation.line_accounting``).

The coverage is the union of the topic's partitions' ``offset.dat`` ``lines`` (a host's lines are in
one partition; the union also holds after a host moved). The state (the ``GapTracker`` and the
incremental ``KafkaLineScan``) is ``<hdfs_root>/_line_gaps/<topic>.json``, replaced whole; a second
round at the same time only disturbs when a part was first seen (the DAG runs one at a time).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from logstream.flume.agent_config import AgentPlacement, FlumeAgentConfig, host_log_dir, host_partitions
from logstream.flume.host_files import HostFiles, HostFilesError, LocalHostFiles
from logstream.flume.line_gaps import GapReport, GapTracker, scan_host_files
from logstream.flume.line_refill import L1RefillClient, RefillError, lines_in_range
from logstream.hadoop_consumer.hdfs_files import read_replaced, replace_file
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.line_ids import LineRanges
from logstream.pipeline_config import PipelineConfig
from logstream.reconciliation.line_accounting import FileAccount, KafkaLineScan, account_files


def gaps_state_file(hdfs_root: str, topic: str) -> str:
    return f"{hdfs_root.rstrip('/')}/_line_gaps/{topic}.json"


def covered_lines(offsets: OffsetStore, topic: str) -> LineRanges:
    """The byte ranges of host files the HadoopConsumer has taken from ``topic``, all partitions."""
    covered = LineRanges()
    for partition in offsets.list_partitions(topic):
        stored = offsets.read(topic, partition)
        if stored is not None and stored.lines:
            covered.update(LineRanges.from_json(stored.lines))
    return covered


@dataclass
class GapRound:
    report: GapReport
    refilled: dict[str, int] = field(default_factory=dict)  # str(gap) -> lines sent
    failures: list[str] = field(default_factory=list)
    accounts: list[FileAccount] = field(default_factory=list)  # per host file, what each hop holds

    def summary(self) -> str:
        report = self.report
        return (f"{report.files} host files: {len(report.gaps)} gap(s) "
                f"({sum(gap.end - gap.start for gap in report.gaps)} bytes), {sum(self.refilled.values())} lines "
                f"refilled, {len(report.lost)} lost range(s) reported, {report.pending_bytes} bytes not taken yet "
                f"(younger than the delay), {len(self.failures)} refill failure(s)")


def find_and_refill(client, pipeline: PipelineConfig, placement: AgentPlacement, agents: list[FlumeAgentConfig], *,
                    topic: str, now: float, refill: bool = True, kafka_bootstrap: str | None = None,
                    online: LineRanges | None = None, l1_address: Callable[[str], str] | None = None,
                    host_files: Callable[[str], HostFiles] | None = None,
                    progress: Callable[[str], None] = lambda line: None) -> GapRound:
    """Observe ``topic``'s host files against the consumer's coverage at ``now`` and refill the gaps.

    :param client: the HDFS client (offsets and the state)
    :param placement: where the hosts' log dirs are, as the hosts see them
    :param agents: the rendered agents (each L1's refill port)
    :param kafka_bootstrap: Kafka, to account for each file's bytes there too (None: not)
    :param online: the topology's committed line ranges, to account for (None: not)
    :param l1_address: the host an L1 agent answers on, by name (None: the placement's bind address)
    :param host_files: where a front-end host's folders are read, by host name (None: on this machine)
    """
    files_of = host_files or (lambda name: LocalHostFiles())
    flume = pipeline.flume
    hosts = [host for host in flume.hosts if host.topic == topic]
    state_file = gaps_state_file(pipeline.hdfs_root, topic)
    stored = read_replaced(client, state_file)
    state = json.loads(stored[1]) if stored else {}
    tracker = GapTracker.from_json(state.get("gaps", ""))
    kafka = KafkaLineScan.from_json(state.get("kafka", ""))
    covered = covered_lines(OffsetStore(client, pipeline.hdfs_root), topic)
    files = []
    for host in hosts:
        found = scan_host_files(host.name, host_log_dir(host, placement), host.file_pattern, files_of(host.name))
        # by the host's own file times (its clock, not this machine's): files idle that long before its newest
        oldest = max((file.mtime for file in found), default=0) - flume.gap_lookback_hours * 3600
        files += [file for file in found if file.mtime >= oldest]
    report = tracker.observe(files, covered, now=now, delay=flume.gap_delay_minutes * 60,
                             hosts={host.name for host in hosts})
    hops = {"Kafka": kafka.once} if kafka_bootstrap else {}
    if kafka_bootstrap:
        read = kafka.read(kafka_bootstrap, topic)
        progress(f"{topic}: {read} new Kafka records read for the line accounting ({kafka.records} so far)")
    hops["HDFS"] = covered
    if online is not None:
        hops["online"] = online
    replace_file(client, state_file, json.dumps({"gaps": tracker.to_json(), "kafka": kafka.to_json()}).encode())
    outcome = GapRound(report, accounts=account_files(files, hops, {"Kafka": kafka.again} if kafka_bootstrap else {}))
    for gap in report.lost:
        progress(f"lost, cannot be refilled: {gap}")
    if not refill:
        return outcome
    partition_of = host_partitions(pipeline)
    l1 = {agent.name: agent for agent in agents if agent.tier == "l1"}
    for gap in report.gaps:
        agent = l1[gap.host]
        address = l1_address(agent.name) if l1_address else placement.bind if placement.bind != "0.0.0.0" else "127.0.0.1"
        client_of_host = L1RefillClient(host=address, port=agent.refill_port)
        try:
            sent = client_of_host.send(topic, gap.host, partition_of[gap.host], gap.file_id, gap.path,
                                       lines_in_range(gap.path, gap.start, gap.end, files_of(gap.host)),
                                       batch_size=flume.batch_size,
                                       progress=lambda sent, gap=gap: progress(f"{gap}: {sent} lines sent"))
        except (RefillError, HostFilesError, OSError) as err:
            outcome.failures.append(f"{gap}: {err}")
            continue
        outcome.refilled[str(gap)] = sent
        progress(f"refilled {gap}: {sent} lines sent to the L1 agent of {gap.host}")
    return outcome
