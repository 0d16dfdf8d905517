"""
### reconcile: every hour, the online counts (Storm, result database) against the offline reports (Hive)

For each topic of `include/pipeline.yaml` and each hourly data interval:

1. `wait_until_reconcilable`: the hour has a Hive report (hive_reports) and the topology's counts of
   it are final (its watermark passed the hour's end plus the allowed lateness); reschedule mode;
2. `reconcile`: per Configuration ID and per host, online against offline; the comparison goes into
   `reconciliation_hours` / `reconciliation_keys` of the result database and, as CSV and PNG, beside
   the hour's reports. Records the topology received after its allowed lateness ("expired") are in
   no online key: an hour whose only differences add up to them is `explained`, not different.

A difference opens an incident: one e-mail naming the differing keys, silence while later hours
still differ, one e-mail when an hour reconciles again. Backfill past hours with
`airflow backfill create --dag-id reconcile ...` (the comparison of an hour is replaced, never added).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, TaskGroup

from dag_defaults import default_args
from logstream.pipeline_config import IDENTIFIER, load_pipeline_config
from logstream.storm.topology_config import load_settings
from notifiers.incident_alert import incident_callbacks
from operators.reconcile import ReconcileHoursOperator
from sensors.reconcilable_hours import ReconcilableHoursSensor

CONFIG = load_pipeline_config()
ALLOWED_LATENESS = timedelta(seconds=load_settings()["logstream"]["allowed_lateness_seconds"])

with DAG(
    dag_id="reconcile",
    description="Online (Storm) against offline (Hive) counts, every hour",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=3,
    default_args=default_args(**incident_callbacks("{{ ti.dag_id }}.{{ ti.task_id }}")),
    params={
        "database": Param(CONFIG.hive_database, type="string", pattern=IDENTIFIER.pattern, description="Hive database of the reports"),
        "reports_dir": Param(str(CONFIG.reports_dir), type="string", description="folder of the report files"),
    },
    tags=["logstream", "checks"],
    doc_md=__doc__,
) as dag:
    for topic in CONFIG.topics:
        with TaskGroup(group_id=topic.name):
            wait = ReconcilableHoursSensor(
                task_id="wait_until_reconcilable",
                topic=topic.name,
                topology=f"security_stats_{topic.name}",
                database="{{ params.database }}",
                allowed_lateness=ALLOWED_LATENESS,
                mode="reschedule",
                poke_interval=300,
                timeout=(CONFIG.lateness + ALLOWED_LATENESS).total_seconds() + 3 * 3600,
            )
            reconcile = ReconcileHoursOperator(
                task_id="reconcile",
                topic=topic.name,
                database="{{ params.database }}",
                reports_dir="{{ params.reports_dir }}",
            )
            wait >> reconcile
