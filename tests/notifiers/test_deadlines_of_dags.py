"""The pipeline's DAGs carry their deadline alerts, counted from when a run is queued (a backfill of
old hours is not late at once)."""

from __future__ import annotations

from datetime import timedelta

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.definitions.deadline import DagRunQueuedAtDeadline
from dag_runs import DAGS

from logstream.pipeline_config import load_pipeline_config


def test_the_consumer_and_the_reports_have_deadlines_from_queueing(stack):
    bag = DagBag(str(DAGS))
    pipeline = load_pipeline_config()
    expected = {
        "hadoop_consumer": 3 * timedelta(minutes=pipeline.consumer.every_minutes),
        "hive_reports": pipeline.lateness + timedelta(minutes=45),
    }
    for dag_id, within in expected.items():
        [alert] = bag.get_dag(dag_id).deadline
        assert isinstance(alert.reference, DagRunQueuedAtDeadline) and alert.interval == within, dag_id
        assert alert.callback.kwargs["subject"].startswith("[logstream] deadline missed:")
