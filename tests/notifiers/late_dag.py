"""A DAG whose only task outlives the run's deadline, for the deadline-alert test (loaded by DagBag
from this file). Its deadline counts from the logical date: a dag.test() run is never queued."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, DeadlineReference, Variable

from dag_defaults import default_args
from notifiers.deadline_alert import deadline_alert


def work_until_released():
    """Runs until the test says so (the Variable), so the deadline passes while it runs; then fails.

    It fails because dag.test() cannot end a DAG run with deadlines successfully (Airflow 3.3:
    ``DagRun.update_state`` looks the deadline alerts up by id, and dag.test's in-memory
    serialization holds their definitions instead; the scheduler's serialized DAGs hold ids).
    """
    deadline = time.monotonic() + 240
    while Variable.get("logstream_late_probe_release", default="no") != "yes" and time.monotonic() < deadline:
        time.sleep(1)
    raise RuntimeError("released by the test")


with DAG(dag_id="logstream_deadline_probe", schedule=None, start_date=datetime(2026, 1, 1),
         default_args=default_args(retries=0),
         deadline=deadline_alert(within=timedelta(seconds=5), what="the probe's hourly report",
                                 reference=DeadlineReference.DAGRUN_LOGICAL_DATE)):
    PythonOperator(task_id="work", python_callable=work_until_released)
