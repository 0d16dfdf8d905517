"""
### result_store_retention: once a day, the result store's old rows go

The Storm topology's result store grows by a row per flush and partition (`online_flushes`), per pane
and partition (`online_pane_closes`) and per pane and key (the counts). `delete_old_rows` deletes the
rows older than `results_retention` in `include/pipeline.yaml` (days per table; null keeps them), in
batches of 50,000 so the topology's writes go on meanwhile; the newest flush and pane close of each
partition are always kept. The task log shows the rows deleted per table and the rate.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronTriggerTimetable

from dag_defaults import default_args
from operators.storm_topology import ResultStoreRetentionOperator

with DAG(
    dag_id="result_store_retention",
    description="Delete the result store's rows older than pipeline.yaml's results_retention, once a day",
    schedule=CronTriggerTimetable("17 3 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["logstream", "online"],
    doc_md=__doc__,
):
    ResultStoreRetentionOperator(task_id="delete_old_rows")
