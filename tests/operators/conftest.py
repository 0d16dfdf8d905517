"""Flume tiers of a test's own, deployed for the operators: named to them by a pipeline file of
their own (LOGSTREAM_PIPELINE_CONFIG) and the Flume connection (AIRFLOW_CONN_FLUME_DEFAULT)."""

from __future__ import annotations

import json

import pytest
import yaml

from flume_hosts import own_tiers, start_tiers


@pytest.fixture
def own_deployment(stack, unique_name, tmp_path, monkeypatch):
    """``own_deployment(slot=..., **flume_settings)``: started tiers of the test's own (ports of ``slot``)."""
    started = []

    def deploy(*, slot: int, **flume_settings):
        tiers = own_tiers(stack, unique_name, slot=slot, batch_size=500)
        pipeline, flume = tiers.pipeline, tiers.pipeline.flume
        raw = {
            "topics": [{"name": topic.name, "partitions": topic.partitions} for topic in pipeline.topics],
            "hdfs_root": f"/tests/{unique_name}/logs",
            "flume": {
                "hosts": [{"name": host.name, "topic": host.topic, "log_dir": host.log_dir} for host in flume.hosts],
                "l2_agents": [{"name": name} for name in flume.l2_agents],
                "batch_size": flume.batch_size,
                "memory_channel_capacity": flume.memory_channel_capacity,
                "file_channel_capacity": flume.file_channel_capacity,
                "minimum_free_megabytes": flume.minimum_free_megabytes,
                "max_penalty_ms": flume.max_penalty_ms,
                **flume_settings,
            },
        }
        (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(raw))
        monkeypatch.setenv("LOGSTREAM_PIPELINE_CONFIG", str(tmp_path / "pipeline.yaml"))
        monkeypatch.setenv("AIRFLOW_CONN_FLUME_DEFAULT", json.dumps({
            "conn_type": "generic", "host": stack.config.host, "port": tiers.metrics_base_port,
            "extra": {"avro_base_port": tiers.avro_base_port, "home": str(tiers.home)}}))
        started.append(tiers)
        return start_tiers(tiers)

    yield deploy
    for tiers in started:
        tiers.stop()
