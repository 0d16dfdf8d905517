"""
### exactly_once_check: every Kafka offset landed in HDFS exactly once, checked every hour

For each topic of `include/pipeline.yaml`, a task proves from HDFS alone (batch file names, their
line counts, `offset.dat`) that each partition's offsets up to the committed one landed once: no
gap, no loss, no duplicate (`plugins/logstream/reconciliation/landed_offsets.py`); another checks
that the reports keep up: no hour of landed input without a report over it long after it was due
(`plugins/logstream/hive/report_freshness.py`). A failing check opens an incident: one e-mail,
then silence while it keeps failing, and a recovery e-mail when it passes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from dag_defaults import default_args
from logstream.pipeline_config import load_pipeline_config
from notifiers.incident_alert import incident_callbacks
from operators.landed_offsets import CheckLandedOffsetsOperator
from operators.report_freshness import CheckReportFreshnessOperator

CONFIG = load_pipeline_config()

with DAG(
    dag_id="exactly_once_check",
    description="Every Kafka offset landed in HDFS exactly once, and every landed hour reported in time",
    schedule="20 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1, retry_delay=timedelta(minutes=2), **incident_callbacks()),
    tags=["logstream", "checks"],
    doc_md=__doc__,
) as dag:
    for topic in CONFIG.topics:
        CheckLandedOffsetsOperator(
            task_id=f"check_{topic.name}",
            topic=topic.name,
            partitions=topic.partitions,
            hdfs_root=CONFIG.hdfs_root,
        )
        CheckReportFreshnessOperator(
            task_id=f"report_freshness_{topic.name}",
            topic=topic.name,
            hdfs_root=CONFIG.hdfs_root,
            database=CONFIG.hive_database,
            lateness_minutes=CONFIG.lateness.total_seconds() / 60,
            max_delay_minutes=CONFIG.health.report_max_delay_minutes,
            lookback_hours=CONFIG.health.report_lookback_hours,
        )
