"""A DAG whose only task fails while the Airflow Variable ``logstream_probe_outcome`` says "fail",
alerting per incident: for the incident-alert test (loaded by DagBag from this file)."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Variable

from dag_defaults import default_args
from notifiers.incident_alert import incident_callbacks


def check():
    if Variable.get("logstream_probe_outcome", default="pass") == "fail":
        raise RuntimeError("the landed offsets have a gap")


with DAG(dag_id="logstream_incident_probe", schedule=None, start_date=datetime(2026, 1, 1),
         default_args=default_args(retries=0, **incident_callbacks())):
    PythonOperator(task_id="check", python_callable=check)
