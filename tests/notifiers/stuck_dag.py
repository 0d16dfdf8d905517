"""A DAG whose only task never finishes on its own, for the execution-timeout test (loaded by DagBag)."""

from __future__ import annotations

import threading
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dag_defaults import default_args


def hang():
    # as a WebHDFS call to a namenode that accepts and never answers would
    threading.Event().wait()


with DAG(dag_id="logstream_stuck_task_probe", schedule=None, start_date=datetime(2026, 1, 1),
         default_args=default_args(retries=0)):
    PythonOperator(task_id="hang", python_callable=hang)
