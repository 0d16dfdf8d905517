"""Every DAG in dags/ loads without import errors, and every task is bounded in time and alerts on failure."""

from __future__ import annotations

from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

from notifiers.failure_alert import SUBJECT
from notifiers.incident_alert import OPENED, RECOVERED, IncidentAlert

DAGS = Path(__file__).parents[2] / "dags"


def test_dags_load_without_errors_and_alert_on_failure():
    bag = DagBag(str(DAGS))
    assert bag.import_errors == {}
    assert {"hadoop_consumer", "hadoop_consumer_replay", "hive_reports", "flume_tiers", "flume_tiers_health",
            "exactly_once_check", "reconcile"} <= set(bag.dag_ids)
    for dag in bag.dags.values():
        for task in dag.tasks:
            callbacks = task.on_failure_callback or []
            subjects = [getattr(callback, "subject", None) for callback in callbacks]
            incidents = [callback.event for callback in callbacks if isinstance(callback, IncidentAlert)]
            # a failure alert per failure, or (the periodic checks) one per incident with its recovery
            assert SUBJECT in subjects or incidents == [OPENED], f"{dag.dag_id}.{task.task_id} sends no failure alert"
            if incidents:
                recovered = [c.event for c in task.on_success_callback or [] if isinstance(c, IncidentAlert)]
                assert recovered == [RECOVERED], f"{dag.dag_id}.{task.task_id} never says its incident recovered"


def test_every_task_has_an_execution_timeout():
    bag = DagBag(str(DAGS))
    unbounded = [f"{dag.dag_id}.{task.task_id}" for dag in bag.dags.values() for task in dag.tasks
                 if task.execution_timeout is None]
    assert unbounded == []
