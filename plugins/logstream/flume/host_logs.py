"""Feeding the pipeline the way the paper's front-end hosts do: lines appended to the hosts' log
files, collected by L1 -> L2 -> Kafka. The demo (and the bench) write here instead of producing
into Kafka themselves."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from logstream.flume.hops import kafka_end_offsets
from logstream.pipeline_config import PipelineConfig

LOG_FILE = "app.log"


def append_to_hosts(pipeline: PipelineConfig, hosts_root: Path, lines: Iterable[bytes], *,
                    topic: str | None = None) -> dict[str, int]:
    """Append ``lines`` round-robin to the ``app.log`` of the hosts that file under ``topic`` (default:
    every host); returns the lines written per topic. A value with a line break in it becomes as many
    lines as a log file would hold, and is counted so."""
    hosts = [host for host in pipeline.flume.hosts if topic is None or host.topic == topic]
    if not hosts:
        raise ValueError(f"no Flume host files its lines under {topic!r}")
    handles = []
    for host in hosts:
        log_dir = Path(host.log_dir) if Path(host.log_dir).is_absolute() else hosts_root / host.log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        handles.append((host.topic, (log_dir / LOG_FILE).open("ab")))
    written: dict[str, int] = defaultdict(int)
    try:
        for index, line in enumerate(lines):
            host_topic, handle = handles[index % len(handles)]
            handle.write(line + b"\n")
            written[host_topic] += line.count(b"\n") + 1
    finally:
        for _, handle in handles:
            handle.close()
    return dict(written)


def feed_through_flume(pipeline: PipelineConfig, hosts_root: Path, lines: Iterable[bytes], *, admin: Any,
                       topic: str | None = None, timeout: float = 1800.0,
                       report: Callable[[str], None] = print) -> dict[str, int]:
    """Append ``lines`` to the hosts' files and wait until Kafka's end offsets grew by as many per topic.

    :param admin: a confluent_kafka ``AdminClient`` of the cluster the L2 agents deliver to
    :returns: the lines written per topic
    """
    topics = sorted({host.topic for host in pipeline.flume.hosts if topic is None or host.topic == topic})
    before = kafka_end_offsets(admin, topics)
    started = time.monotonic()
    written = append_to_hosts(pipeline, hosts_root, lines, topic=topic)
    report(f"appended {sum(written.values()):,} lines to the hosts' log files in {time.monotonic() - started:.1f}s")
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    while True:
        now = kafka_end_offsets(admin, topics)
        landed = {name: now[name] - before[name] for name in topics}
        if all(landed[name] >= written.get(name, 0) for name in topics):
            seconds = time.monotonic() - started
            report(f"all {sum(written.values()):,} lines in Kafka after {seconds:.1f}s "
                   f"({sum(written.values()) / seconds:,.0f} lines/s through L1 and L2)")
            return written
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {timeout:.0f}s Kafka holds {landed} of {written} lines: see the flume_tiers "
                               "health check for the stuck hop")
        if time.monotonic() - last_report > 10:
            report(f"... {sum(landed.values()):,} of {sum(written.values()):,} lines in Kafka")
            last_report = time.monotonic()
        time.sleep(0.5)
