"""The topology's settings: ``include/storm/security_stats.yaml`` plus what is known only at submit
time, merged into the one Storm topology config the components read back in the workers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from logstream.log_entry import StartTimeBounds
from logstream.pipeline_config import load_pipeline_config

SETTINGS_FILE = Path(__file__).resolve().parents[3] / "include" / "storm" / "security_stats.yaml"
PREFIX = "logstream."


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """The settings file as a dict with ``storm``, ``parallelism`` and ``logstream`` sections."""
    return yaml.safe_load((path or SETTINGS_FILE).read_text())


@dataclass(frozen=True)
class ComponentSettings:
    """What the spout and the bolt need, carried in the topology config as ``logstream.*`` keys."""

    topology: str
    topic: str
    kafka_bootstrap: str
    results_dsn: str
    records_per_tuple: int
    flush_records: int
    pane_seconds: int
    allowed_lateness_seconds: int
    # the pipeline's StartTime bounds (include/pipeline.yaml's consumer section), as the HadoopConsumer's
    start_time_max_age_seconds: int
    start_time_max_lead_seconds: int
    # a record moves the watermark at most this far past its Kafka timestamp (the HadoopConsumer's too)
    watermark_max_lead_seconds: int

    @classmethod
    def from_storm_conf(cls, conf: dict[str, Any]) -> ComponentSettings:
        return cls(**{name: conf[PREFIX + name] for name in cls.__dataclass_fields__})

    @property
    def start_time_bounds(self) -> StartTimeBounds:
        return StartTimeBounds(self.start_time_max_age_seconds, self.start_time_max_lead_seconds)


def topology_conf(*, name: str, topic: str, kafka_bootstrap: str, results_dsn: str,
                  settings: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Storm config to submit: Storm's settings from the file, then every ``logstream.*`` key."""
    settings = settings or load_settings()
    # one rule for both consumers: the topology judges StartTimes by the HadoopConsumer's bounds
    consumer = load_pipeline_config().consumer
    bounds = consumer.start_time_bounds
    own = {"start_time_max_age_seconds": bounds.max_age, "start_time_max_lead_seconds": bounds.max_lead,
           "watermark_max_lead_seconds": consumer.watermark_max_lead_seconds,
           **settings["logstream"], **(overrides or {})}
    conf = dict(settings["storm"])
    conf.update({PREFIX + key: value for key, value in own.items() if key in ComponentSettings.__dataclass_fields__})
    conf.update({
        PREFIX + "topology": name,
        PREFIX + "topic": topic,
        PREFIX + "kafka_bootstrap": kafka_bootstrap,
        PREFIX + "results_dsn": results_dsn,
        "topology.name": name,
    })
    return conf
