"""
### hive_reports: hourly HQL reports over the logs the HadoopConsumer lands in HDFS

Every hour (an hourly data interval, UTC), and whenever the HadoopConsumer's asset events say
hours became complete (or received late records: a restatement, with the next `version`), for each
topic of `include/pipeline.yaml`:

1. `create_tables` (idempotent DDL, `include/hql/create_tables.hql`);
2. `wait_for_complete_hours`: until every partition's offset.dat watermark passed the hour's end,
   or its committed offset reached Kafka's offset for the hour's end, or the configured lateness
   elapsed (reported as `completeness = 'lateness_elapsed'`, with an alert e-mail; reschedule mode);
3. `plan`: input fingerprint and version of each hour, the HDFS folders to register;
4. `report` (one at a time per topic): takes each hour's version from `report_runs`, then
   `ALTER TABLE ... ADD IF NOT EXISTS PARTITION`, `INSERT OVERWRITE` of the hour's partition of
   every report table (`include/hql/report_hour.hql`, `include/hql/reports/`) and the `report_runs` row;
5. data-quality checks with common-sql's check operators;
6. `write_report_files`: CSV files and a PNG chart per hour under `reports_dir`.

Backfill past hours with `airflow backfill create --dag-id hive_reports --from-date ... --to-date ...`;
run conf may override the params (for instance another `database` to report into).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronDataIntervalTimetable, Param, TaskGroup

from dag_defaults import default_args
from hooks.hiveserver2 import BoundedHiveServer2Hook
from logstream.hive.hql import HQL_DIR
from logstream.hive.reports import KEY_CHECKS, RUN_CHECKS, REPORTS_BY_NAME
from logstream.pipeline_config import IDENTIFIER, load_pipeline_config
from logstream_assets import logs_asset
from notifiers.deadline_alert import deadline_alert
from operators.hive_report import PlanReportHoursOperator, ReportHoursOperator, WriteReportFilesOperator
from operators.hql import HiveCheckOperator, HiveColumnCheckOperator, HiveTableCheckOperator, HqlOperator
from sensors.complete_hours import CompleteHoursSensor

CONFIG = load_pipeline_config()
HIVE = BoundedHiveServer2Hook.default_conn_name
REPORTED_HOURS = "{{ ti.xcom_pull(task_ids=params.plan_task, key='partition_clause') }}"

with DAG(
    dag_id="hive_reports",
    description="Hourly HQL reports over the logs landed in HDFS",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
        assets=AssetAny(*(logs_asset(topic.name) for topic in CONFIG.topics)),
    ),
    start_date=datetime(2000, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=3,
    default_args=default_args(),
    # queued when its hour ends; it may wait out the lateness for late records, then reports in minutes
    deadline=deadline_alert(within=CONFIG.lateness + timedelta(minutes=45),
                            what="the hour's reports (hours past their end plus the lateness are not reported yet)"),
    template_searchpath=[str(HQL_DIR)],
    params={
        "database": Param(CONFIG.hive_database, type="string", pattern=IDENTIFIER.pattern, description="Hive database of the tables"),
        "hdfs_root": Param(CONFIG.hdfs_root, type="string", pattern=r"^/[A-Za-z0-9._/-]*$", description="HadoopConsumer's HDFS root"),
        "reports_dir": Param(str(CONFIG.reports_dir), type="string", description="folder of the CSV and PNG files"),
        "top_hosts": Param(CONFIG.reports.top_hosts, type="integer", minimum=1),
        "interval_tolerance": Param(CONFIG.reports.interval_tolerance, type="number", exclusiveMinimum=1),
    },
    tags=["logstream", "hive"],
    doc_md=__doc__,
) as dag:
    # One writer at a time across runs (a backfill runs several): Spark stages a fully static
    # partition overwrite in the table's own _temporary folder, which concurrent jobs would share;
    # and two first-time CREATE TABLE IF NOT EXISTS can race in the metastore.
    create_tables = HqlOperator(task_id="create_tables", sql="create_tables.hql", max_active_tis_per_dag=1)

    for topic in CONFIG.topics:
        with TaskGroup(group_id=topic.name):
            wait = CompleteHoursSensor(
                task_id="wait_for_complete_hours",
                topic=topic.name,
                hdfs_root="{{ params.hdfs_root }}",
                partitions=topic.partitions,
                lateness=CONFIG.lateness,
                mode="reschedule",
                poke_interval=60,
                timeout=CONFIG.lateness.total_seconds() + 3600,
            )
            plan = PlanReportHoursOperator(
                task_id="plan",
                topic=topic.name,
                hours=wait.output,
                hdfs_root="{{ params.hdfs_root }}",
                database="{{ params.database }}",
                lookback_hours=CONFIG.reports.new_host_lookback_hours,
            )
            planned = {"plan_task": plan.task_id}
            # one at a time per topic: the task takes each hour's version and records it (DESIGN.md)
            report = ReportHoursOperator(
                task_id="report",
                plans=plan.output,
                database="{{ params.database }}",
                hdfs_root="{{ params.hdfs_root }}",
                top_hosts="{{ params.top_hosts }}",
                interval_tolerance="{{ params.interval_tolerance }}",
                max_active_tis_per_dag=1,
            )
            checks = [
                HiveCheckOperator(task_id="check_totals", conn_id=HIVE, sql="checks/report_totals.hql", params=planned),
                *(
                    HiveColumnCheckOperator(
                        task_id=f"check_{name}_keys",
                        conn_id=HIVE,
                        table=f"{{{{ params.database }}}}.{REPORTS_BY_NAME[name].table}",
                        column_mapping=mapping,
                        partition_clause=REPORTED_HOURS,
                        params=planned,
                    )
                    for name, mapping in KEY_CHECKS.items()
                ),
                HiveTableCheckOperator(
                    task_id="check_report_runs",
                    conn_id=HIVE,
                    table="{{ params.database }}.report_runs",
                    checks=RUN_CHECKS,
                    partition_clause=REPORTED_HOURS,
                    params=planned,
                ),
            ]
            files = WriteReportFilesOperator(
                task_id="write_report_files",
                hours=report.output,
                database="{{ params.database }}",
                reports_dir="{{ params.reports_dir }}",
            )
            create_tables >> wait >> plan >> report >> checks >> files
