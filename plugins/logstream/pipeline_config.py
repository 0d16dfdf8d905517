"""The pipeline's shape (topics, HDFS root, lateness, reports), read from ``include/pipeline.yaml``.

DAGs read it at parse time, so it is plain data: no Airflow Variables, no connections.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from logstream.hdfs_layout import DEFAULT_ROOT

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "include" / "pipeline.yaml"

# Kafka's own rule for topic names; it also keeps them safe inside HQL string literals.
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PipelineConfigError(ValueError):
    """include/pipeline.yaml does not describe a pipeline."""


@dataclass(frozen=True)
class TopicConfig:
    name: str
    partitions: int


@dataclass(frozen=True)
class ReportSettings:
    top_hosts: int = 10
    new_host_lookback_hours: int = 24
    interval_tolerance: float = 2


@dataclass(frozen=True)
class ConsumerSettings:
    """The HadoopConsumer's micro-batches: how often, and how much at most per partition and run."""

    every_minutes: int = 5
    max_records: int = 500_000
    max_megabytes: int = 256
    # a run of at least this many records fetches half of them in a second process
    split_from_records: int = 200_000
    # StartTimes further than this before / after their record's Kafka timestamp are quarantined
    start_time_max_age_hours: float = 720
    start_time_max_lead_hours: float = 48


@dataclass(frozen=True)
class PipelineConfig:
    topics: tuple[TopicConfig, ...]
    hdfs_root: str = DEFAULT_ROOT
    lateness: timedelta = timedelta(minutes=30)
    reports_dir: Path = REPO_ROOT / ".stack" / "reports"
    hive_database: str = "logstream"
    reports: ReportSettings = field(default_factory=ReportSettings)
    consumer: ConsumerSettings = field(default_factory=ConsumerSettings)


def load_pipeline_config(path: Path | str | None = None) -> PipelineConfig:
    # LOGSTREAM_PIPELINE_CONFIG points a deployment (or a test) at another file
    path = path or Path(os.environ.get("LOGSTREAM_PIPELINE_CONFIG", DEFAULT_PATH))
    raw = yaml.safe_load(Path(path).read_text()) or {}
    topics = tuple(TopicConfig(name=str(t["name"]), partitions=int(t.get("partitions", 1))) for t in raw.get("topics", []))
    reports_dir = Path(raw.get("reports_dir", ".stack/reports"))
    config = PipelineConfig(
        topics=topics,
        hdfs_root=str(raw.get("hdfs_root", PipelineConfig.hdfs_root)).rstrip("/") or "/",
        lateness=timedelta(minutes=float(raw.get("lateness_minutes", PipelineConfig.lateness / timedelta(minutes=1)))),
        reports_dir=reports_dir if reports_dir.is_absolute() else REPO_ROOT / reports_dir,
        hive_database=str(raw.get("hive_database", PipelineConfig.hive_database)),
        reports=ReportSettings(**(raw.get("reports") or {})),
        consumer=ConsumerSettings(**(raw.get("consumer") or {})),
    )
    _validate(config, path)
    return config


def _validate(config: PipelineConfig, path: Path | str) -> None:
    problems = [f"topic name {t.name!r} is not a Kafka topic name" for t in config.topics if not TOPIC_NAME.match(t.name)]
    problems += [f"topic {t.name!r} needs at least one partition" for t in config.topics if t.partitions < 1]
    if not config.topics:
        problems.append("no topics")
    if not config.hdfs_root.startswith("/"):
        problems.append(f"hdfs_root {config.hdfs_root!r} is not an absolute HDFS path")
    if not IDENTIFIER.match(config.hive_database):
        problems.append(f"hive_database {config.hive_database!r} is not an identifier")
    if problems:
        raise PipelineConfigError(f"{path}: " + "; ".join(problems))
