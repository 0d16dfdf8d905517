"""The online statistics on Storm: deploy the security_stats topology for each topic (a no-op while
the same jar runs), wait until it runs, then check its health every few minutes; kill and rebalance
on demand."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from dag_defaults import default_args
from notifiers.incident_alert import incident_callbacks
from logstream.pipeline_config import load_pipeline_config
from operators.storm_topology import (
    KillStormTopologyOperator,
    RebalanceStormTopologyOperator,
    StormTopologyHealthOperator,
    SubmitStormTopologyOperator,
)
from sensors.storm_topology import StormTopologyRunningSensor

pipeline = load_pipeline_config()
TOPOLOGY_NAME = "security_stats_{{ params.topic }}"
topic_param = Param(pipeline.topics[0].name, type="string", description="the Kafka topic the topology counts")

with DAG(
    dag_id="storm_topology",
    description="Storm online statistics: deploy, wait until running, health check (workers, stats, lag)",
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # one e-mail when a topic's topology goes wrong (down, lagging), one when it is well again
    default_args=default_args(retries=0, **incident_callbacks("{{ ti.dag_id }}.{{ ti.task_id }}.{{ params.topic }}")),
    render_template_as_native_obj=True,
    params={"topic": topic_param, "max_lag_records": Param(1_000_000, type="integer")},
    tags=["logstream", "online"],
):
    deploy = SubmitStormTopologyOperator(task_id="deploy", name=TOPOLOGY_NAME, topic="{{ params.topic }}")
    running = StormTopologyRunningSensor(task_id="wait_until_running", name=TOPOLOGY_NAME, wait_timeout=300)
    health = StormTopologyHealthOperator(task_id="health_check", name=TOPOLOGY_NAME, topic="{{ params.topic }}",
                                         max_lag_records="{{ params.max_lag_records }}")
    deploy >> running >> health

with DAG(
    dag_id="storm_topology_kill",
    description="Kill a topic's security_stats topology",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=default_args(retries=0),
    render_template_as_native_obj=True,
    params={"topic": topic_param, "wait_secs": Param(0, type="integer")},
    tags=["logstream", "online"],
):
    KillStormTopologyOperator(task_id="kill", name=TOPOLOGY_NAME, wait_secs="{{ params.wait_secs }}")

with DAG(
    dag_id="storm_topology_rebalance",
    description="Move a topic's security_stats topology onto another number of workers",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=default_args(retries=0),
    render_template_as_native_obj=True,
    params={"topic": topic_param, "workers": Param(1, type="integer", minimum=1)},
    tags=["logstream", "online"],
):
    RebalanceStormTopologyOperator(task_id="rebalance", name=TOPOLOGY_NAME, workers="{{ params.workers }}")
