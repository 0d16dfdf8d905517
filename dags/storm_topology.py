"""The online statistics on Storm: ``storm_topologies`` checks Storm's daemons (starting the local
stack's dead ones), then deploys the security_stats topology of every topic of ``pipeline.yaml``
every 5 minutes (a no-op while the same jar runs), waits until it runs and checks its health, a task
group per topic; ``storm_topology`` does the same for one topic on demand
(run conf ``{"topic": ...}``); kill and rebalance on demand."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, TaskGroup

from dag_defaults import default_args
from notifiers.incident_alert import incident_callbacks
from logstream.pipeline_config import load_pipeline_config
from operators.storm_topology import (
    KillStormTopologyOperator,
    RebalanceStormTopologyOperator,
    StormDaemonsHealthOperator,
    StormTopologyHealthOperator,
    SubmitStormTopologyOperator,
)
from sensors.storm_topology import StormTopologyRunningSensor

pipeline = load_pipeline_config()
TOPOLOGY_NAME = "security_stats_{{ params.topic }}"
topic_param = Param(pipeline.topics[0].name, type="string", description="the Kafka topic the topology counts")


def deploy_and_check(name: str, topic: str, max_lag_records, **deploy_args) -> SubmitStormTopologyOperator:
    """Deploy the topology, wait until it runs, check its health."""
    deploy = SubmitStormTopologyOperator(task_id="deploy", name=name, topic=topic, **deploy_args)
    # one retry: Airflow 3.3 can fail a deferred try whose trigger fired at once (see the sensor)
    running = StormTopologyRunningSensor(task_id="wait_until_running", name=name, wait_timeout=300,
                                         retries=1, retry_delay=timedelta(seconds=10))
    health = StormTopologyHealthOperator(task_id="health_check", name=name, topic=topic, max_lag_records=max_lag_records)
    deploy >> running >> health
    return deploy


with DAG(
    dag_id="storm_topologies",
    description="Storm online statistics of every topic: deploy, wait until running, health check (workers, lag)",
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # one e-mail when a topic's topology goes wrong (down, lagging), one when it is well again: the
    # task ids carry the topic's group
    default_args=default_args(retries=0, **incident_callbacks("{{ ti.dag_id }}.{{ ti.task_id }}")),
    tags=["logstream", "online"],
):
    # a daemon started again fails this task once (its own incident); the topologies go on either way
    daemons = StormDaemonsHealthOperator(task_id="storm_daemons")
    for topic in pipeline.topics:
        with TaskGroup(group_id=topic.name):
            daemons >> deploy_and_check(f"security_stats_{topic.name}", topic.name, 1_000_000, trigger_rule="all_done")

with DAG(
    dag_id="storm_topology",
    description="Storm online statistics of one topic, on demand: deploy, wait until running, health check",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=0, **incident_callbacks("{{ ti.dag_id }}.{{ ti.task_id }}.{{ params.topic }}")),
    render_template_as_native_obj=True,
    params={"topic": topic_param, "max_lag_records": Param(1_000_000, type="integer")},
    tags=["logstream", "online"],
):
    deploy_and_check(TOPOLOGY_NAME, "{{ params.topic }}", "{{ params.max_lag_records }}")

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
