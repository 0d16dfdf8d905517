"""The Airflow Assets logstream's DAGs share: the HadoopConsumer produces them, ``hive_reports`` consumes them.

An event on ``logs_asset(topic)`` carries ``extra={"topic": topic, "hours": ["YYYY-MM-DDTHH", ...]}``,
the hours of that topic that became complete (or, once complete, received late records).
"""

from __future__ import annotations

from airflow.sdk import Asset


def logs_asset(topic: str) -> Asset:
    return Asset(name=f"logstream.logs.{topic}", uri=f"hdfs://logstream/logs/{topic}")
