"""Kafka's own consumer perf test (``kafka-consumer-perf-test``) on a topic: the baseline every
bench reports its ratio against, measured in the same run."""

from __future__ import annotations

import subprocess
import uuid

from logstream.stack.config import StackConfig


def consumer_perf_test(config: StackConfig, topic: str, count: int, *, heap: str = "1g",
                       timeout_ms: int = 120_000, bootstrap: str | None = None) -> dict[str, float]:
    """Read ``count`` records of ``topic`` with ``org.apache.kafka.tools.ConsumerPerformance`` (from the
    stack's Kafka, or ``bootstrap``); its figures (``nMsg.sec``, ``MB.sec``, ...) by name."""
    argv = [config.java(), f"-Xmx{heap}", "-cp", config.classpath("kafka"), "org.apache.kafka.tools.ConsumerPerformance",
            "--bootstrap-server", bootstrap or config.kafka_bootstrap, "--topic", topic, "--messages", str(count),
            "--group", f"perf-{uuid.uuid4().hex[:6]}", "--timeout", str(timeout_ms)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    header = [name.strip() for name in lines[-2].split(",")]
    values = [value.strip() for value in lines[-1].split(",")]
    return {name: float(value) for name, value in zip(header, values) if name not in ("start.time", "end.time")}
