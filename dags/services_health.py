"""The services the pipeline stands on (ZooKeeper, Kafka, HDFS, Hive, PostgreSQL), each checked every 2 minutes
through the connections the pipeline's tasks use; on the local stack a crashed one is started again
first (PostgreSQL, Airflow's own database there, by the stack's keeper: its check names a restart since
the last run). One incident per service: an e-mail when it goes down, one when it answers again."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from dag_defaults import default_args
from notifiers.incident_alert import incident_callbacks
from operators.service_health import PROBES, ServiceHealthOperator

with DAG(
    dag_id="services_health",
    description="ZooKeeper, Kafka, HDFS, Hive and PostgreSQL answering; the local stack's crashed ones started again",
    schedule=timedelta(minutes=2),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # a run waits for a restarted service (up to 2 minutes); the next run closes its incident
    default_args=default_args(retries=0, execution_timeout=timedelta(minutes=5), **incident_callbacks()),
    tags=["logstream", "services"],
):
    for service in PROBES:
        ServiceHealthOperator(task_id=service, service=service)
