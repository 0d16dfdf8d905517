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
from logstream.log_entry import StartTimeBounds

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
    # a record moves its partition's watermark at most this far past its Kafka timestamp (the
    # broker's clock): a host whose clock runs ahead cannot make an hour look complete early
    watermark_max_lead_seconds: int = 300

    @property
    def start_time_bounds(self) -> StartTimeBounds:
        """The bounds in seconds, as both consumers apply them."""
        return StartTimeBounds(int(self.start_time_max_age_hours * 3600), int(self.start_time_max_lead_hours * 3600))


@dataclass(frozen=True)
class HealthSettings:
    """When the online statistics are called frozen or stalled (the storm health checks), the
    reports overdue (the report freshness check) and an L1's reading behind (the Flume health check)."""

    # the window the shares are taken over, of flushes committed in it
    online_window_minutes: int = 10
    # a larger share of records arriving expired (after their pane's allowed lateness) in the window
    # means the counts no longer follow the traffic (a watermark run ahead, a clock far off)
    online_max_expired_share: float = 0.5
    # a partition with records waiting and no flush committed for this long is stalled
    online_stalled_minutes: int = 10
    # an hour whose landed input no report covers, this long after it had to be reported (its end
    # plus the lateness) and after its last file landed, is overdue (the report freshness check)
    report_max_delay_minutes: int = 90
    # how far back the report freshness check looks (older hours are backfills' business)
    report_lookback_hours: int = 48
    # an L1 whose TAILDIR has more than this of its host's complete lines still to read is behind
    # (flume_tiers_health; one that does not move at all while lines wait is named whatever the amount)
    taildir_max_lag_mb: float = 64.0


@dataclass(frozen=True)
class ResultRetention:
    """How many days the result store keeps rows of its growing tables (None: for ever); the
    result_store_retention DAG deletes older ones every day."""

    # the flush audit trail and the pane closes (a row per flush / per pane and partition): the page and
    # the health checks read their last hour; the newest row of each partition is kept whatever its age
    flushes_days: float | None = 7
    pane_closes_days: float | None = 7
    # the counts per pane (totals, Configuration IDs, hosts): what reconcile compares with the reports;
    # an hour older than this is not reconciled (said in reconcile's task log)
    panes_days: float | None = 90
    bad_records_days: float | None = 90

    def __post_init__(self) -> None:
        for name in ("flushes_days", "pane_closes_days", "panes_days", "bad_records_days"):
            days = getattr(self, name)
            if days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0):
                raise ValueError(f"results_retention.{name} must be a number of days above 0, or null: {days!r}")


@dataclass(frozen=True)
class FlumeHost:
    """A front-end host: its L1 agent tails ``log_dir`` and files every line under ``topic``."""

    name: str
    topic: str
    # relative paths are under the deployment's Flume home (the local stack: .stack/data/flume)
    log_dir: str
    # TAILDIR's regular expression on file names; rotated names (app.log.1) keep being read by inode
    file_pattern: str = r".*\.log(\.[0-9]+)?"


@dataclass(frozen=True)
class FlumeSettings:
    """The collection tiers (include/flume/): L1 per front-end host, L2 convergence agents."""

    hosts: tuple[FlumeHost, ...] = ()
    l2_agents: tuple[str, ...] = ()
    batch_size: int = 1000
    # a line with no newline at the end of an idle file is sent after this long
    idle_timeout_ms: int = 120_000
    memory_channel_capacity: int = 100_000
    # the L1's channel: "memory" (a killed L1 loses what it holds; flume_line_gaps refills it) or
    # "file" (kept across a kill, an fsync per batch; bench/flume_tiers.md has the trade)
    l1_channel: str = "memory"
    file_channel_capacity: int = 1_000_000
    # the file channel refuses events below this much free disk
    minimum_free_megabytes: int = 500
    # a failed L2 is retried after min(2^n s, this)
    max_penalty_ms: int = 10_000
    # Kafka sinks per L2, taking from its file channel in parallel: while one waits for acks=all the
    # other takes its next batch (two: 35,609 lines/s warm where one gave 32,398, bench/flume_tiers.md);
    # a killed L2 re-sends at most one batch per sink when it comes back
    kafka_sinks_per_l2: int = 2
    # the L2 Kafka producer's batch.size in bytes
    kafka_batch_bytes: int = 262_144
    # the file channel's checkpoint (its data files are fsynced per transaction regardless)
    checkpoint_interval_ms: int = 30_000
    # a longer line is cut by the L1 to its first line_keep_bytes and a note (it is whole in its host
    # file at the record's offset header): a record over Kafka's message.max.bytes (1 MB) would block
    # its L2's Kafka sink for good; the cut line is still over the 4 KiB of an entry, so the
    # consumers quarantine it as oversized
    max_line_bytes: int = 524_288
    line_keep_bytes: int = 4_200
    # bytes of a host file that no consumer has taken this long after they were first seen so are a
    # gap: reported and refilled from the host (flume/line_gaps.py, the flume_line_gaps DAG)
    gap_delay_minutes: int = 20
    # host files last written this long before the host's newest are not looked at (well inside the 30 days after which the
    # consumers forget a file's ranges: a refill of a forgotten file would land its lines again)
    gap_lookback_hours: int = 168


@dataclass(frozen=True)
class PipelineConfig:
    topics: tuple[TopicConfig, ...]
    hdfs_root: str = DEFAULT_ROOT
    lateness: timedelta = timedelta(minutes=30)
    reports_dir: Path = REPO_ROOT / ".stack" / "reports"
    hive_database: str = "logstream"
    reports: ReportSettings = field(default_factory=ReportSettings)
    consumer: ConsumerSettings = field(default_factory=ConsumerSettings)
    flume: FlumeSettings = field(default_factory=FlumeSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    results_retention: ResultRetention = field(default_factory=ResultRetention)


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
        flume=_flume_settings(raw.get("flume") or {}),
        health=HealthSettings(**(raw.get("health") or {})),
        results_retention=ResultRetention(**(raw.get("results_retention") or {})),
    )
    _validate(config, path)
    return config


_TEXT_SETTINGS = ("l1_channel",)


def _flume_settings(raw: dict) -> FlumeSettings:
    hosts = tuple(FlumeHost(**{key: str(value) for key, value in host.items()}) for host in raw.get("hosts", []))
    l2_agents = tuple(str(agent["name"]) for agent in raw.get("l2_agents", []))
    settings = {key: str(value) if key in _TEXT_SETTINGS else int(value)
                for key, value in raw.items() if key not in ("hosts", "l2_agents")}
    return FlumeSettings(hosts=hosts, l2_agents=l2_agents, **settings)


def _validate(config: PipelineConfig, path: Path | str) -> None:
    problems = [f"topic name {t.name!r} is not a Kafka topic name" for t in config.topics if not TOPIC_NAME.match(t.name)]
    problems += [f"topic {t.name!r} needs at least one partition" for t in config.topics if t.partitions < 1]
    if not config.topics:
        problems.append("no topics")
    if not config.hdfs_root.startswith("/"):
        problems.append(f"hdfs_root {config.hdfs_root!r} is not an absolute HDFS path")
    if not IDENTIFIER.match(config.hive_database):
        problems.append(f"hive_database {config.hive_database!r} is not an identifier")
    problems += _flume_problems(config)
    if problems:
        raise PipelineConfigError(f"{path}: " + "; ".join(problems))


def _flume_problems(config: PipelineConfig) -> list[str]:
    topics = {topic.name for topic in config.topics}
    flume = config.flume
    names = [host.name for host in flume.hosts] + list(flume.l2_agents)
    problems = [f"flume agent name {name!r} is not an identifier" for name in names if not IDENTIFIER.match(name)]
    problems += [f"flume agent name {name!r} is used twice" for name in sorted(set(names)) if names.count(name) > 1]
    problems += [
        f"flume host {host.name!r} files its lines under unknown topic {host.topic!r} (topics: {sorted(topics)})"
        for host in flume.hosts
        if host.topic not in topics
    ]
    if not 0 < flume.line_keep_bytes < flume.max_line_bytes:
        problems.append(f"flume line_keep_bytes ({flume.line_keep_bytes}) must be above 0 and below "
                        f"max_line_bytes ({flume.max_line_bytes})")
    if flume.l1_channel not in ("memory", "file"):
        problems.append(f"flume l1_channel {flume.l1_channel!r} is not 'memory' or 'file'")
    if flume.hosts and len(flume.l2_agents) < 2:
        # an L1's failover sink group needs a second L2 to fail over to
        problems.append(f"flume hosts need at least two l2_agents (an L1 fails over to the next), "
                        f"found {len(flume.l2_agents)}")
    return problems
