"""A DAG whose only task fails, for the failure-alert test (loaded by DagBag from this file)."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dag_defaults import default_args


def explode():
    raise RuntimeError("Kafka is on fire")


with DAG(dag_id="logstream_failure_alert_probe", schedule=None, start_date=datetime(2026, 1, 1),
         default_args=default_args(retries=0)):
    PythonOperator(task_id="explode", python_callable=explode)
