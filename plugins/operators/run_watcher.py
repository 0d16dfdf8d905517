"""Fails the DAG run when any upstream task failed, for DAGs whose last task runs regardless.

A DAG run's state comes from its leaf tasks: when the leaf has ``trigger_rule="all_done"`` (the
HadoopConsumer's announcer runs even after a partition's batch failed) the run would show success
over a failed task. This watcher (Airflow's "watcher" pattern) is a second leaf that runs only when
something upstream failed, and fails, naming the failed tasks (in its alert too).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk import BaseOperator


class RunWatcherOperator(BaseOperator):
    """Fails (without retries) when at least one upstream task failed; skipped otherwise. It sends no
    alert of its own: the failed tasks alert (per failure, or once per incident), and a second mail
    for the same cause on every run would defeat the incidents."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trigger_rule="one_failed", **{**kwargs, "retries": 0, "on_failure_callback": None})

    def execute(self, context: Any) -> None:
        failed = sorted({ti.task_id for ti in context["dag_run"].get_task_instances(state=["failed", "upstream_failed"])})
        raise AirflowFailException(f"upstream task(s) failed: {', '.join(failed)}; see their logs")
