"""The hive_reports tasks that need more than a SQL statement: planning, reporting and writing report files."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from hooks.hiveserver2 import BoundedHiveServer2Hook
from hooks.webhdfs import BoundedWebHDFSHook
from hooks.zookeeper import ZOOKEEPER_DEFAULT_CONN_ID, ZooKeeperHook
from logstream.hive.report_lock import report_lock
from logstream.hive.report_plan import HourPlan
from logstream.hive.reporting import ReportParams, plan_report_hours, report_planned_hours
from logstream.log_hours.hours import hours_clause


class PlanReportHoursOperator(BaseOperator):
    """Plan the reports of ``hours`` of ``topic``: folders to register, input fingerprints, versions.

    Returns one ``HourPlan`` dict per hour (the report task reports from them) and pushes
    the hours' WHERE clause as XCom ``partition_clause`` for the data-quality checks.

    :param topic: the Kafka topic
    :param hours: hour keys ``YYYY-MM-DDTHH``, or ``{key: how complete}`` (templated; usually the sensor's XCom)
    :param hdfs_root: the HadoopConsumer's HDFS root (templated)
    :param database: the reports' Hive database (templated)
    :param lookback_hours: how far back a host must be absent to be new
    :param hiveserver2_conn_id: the HiveServer2 connection
    :param webhdfs_conn_id: the WebHDFS connection
    """

    template_fields: Sequence[str] = ("hours", "hdfs_root", "database")

    def __init__(
        self,
        *,
        topic: str,
        hours: Any,
        hdfs_root: str,
        database: str,
        lookback_hours: int,
        hiveserver2_conn_id: str = BoundedHiveServer2Hook.default_conn_name,
        webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.hours = hours
        self.hdfs_root = hdfs_root
        self.database = database
        self.lookback_hours = lookback_hours
        self.hiveserver2_conn_id = hiveserver2_conn_id
        self.webhdfs_conn_id = webhdfs_conn_id

    def execute(self, context) -> list[dict]:
        hive = BoundedHiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        client = BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        keys = sorted(set(self.hours or []))
        if not keys:
            raise AirflowSkipException(f"no hours of {self.topic} to report")
        completeness = self.hours if isinstance(self.hours, dict) else None
        plans = plan_report_hours(hive.get_records, client, topic=self.topic, keys=keys, database=self.database,
                                  hdfs_root=self.hdfs_root, lookback_hours=self.lookback_hours, completeness=completeness)
        for plan in plans:
            self.log.info(
                "%s %s (%s): %d files (%d bytes), fingerprint %s, version %d unless another run reports first",
                self.topic, plan.key, plan.completeness, plan.files, plan.bytes, plan.fingerprint, plan.version,
            )
        context["ti"].xcom_push(key="partition_clause", value=hours_clause(self.topic, keys))
        return [plan.as_dict() for plan in plans]


class ReportHoursOperator(BaseOperator):
    """Report the planned hours (``include/hql/report_hour.hql``), each with the version it takes now.

    One writer per database at a time, whoever runs it: the task takes the database's report lock
    in ZooKeeper (``logstream.hive.report_lock``) before it writes; the DAG also runs it one at a
    time (``max_active_tis_per_dag=1``). The version is read from ``report_runs`` and recorded
    there under that lock, so overlapping runs cannot take the same one. A writer that lost the lock
    (paused past its session) sends nothing more, and the statement it left running on the server is
    ended by the next holder before that one writes. Returns the plans with their versions.

    :param plans: the plan task's XCom (templated)
    :param database: the reports' Hive database (templated)
    :param hdfs_root: the HadoopConsumer's HDFS root (templated)
    :param top_hosts: how many hosts the top-hosts report keeps (templated)
    :param interval_tolerance: the factor beyond which an Interval is unusual (templated)
    :param lock_wait: how long to wait for another writer of the database, in seconds
    :param hiveserver2_conn_id: the HiveServer2 connection
    :param zookeeper_conn_id: the ZooKeeper that holds the report lock
    """

    template_fields: Sequence[str] = ("plans", "database", "hdfs_root", "top_hosts", "interval_tolerance")
    ui_color = "#f0e4ec"

    def __init__(
        self,
        *,
        plans: Any,
        database: str,
        hdfs_root: str,
        top_hosts: Any,
        interval_tolerance: Any,
        lock_wait: float = 900,
        hiveserver2_conn_id: str = BoundedHiveServer2Hook.default_conn_name,
        zookeeper_conn_id: str = ZOOKEEPER_DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plans = plans
        self.database = database
        self.hdfs_root = hdfs_root
        self.top_hosts = top_hosts
        self.interval_tolerance = interval_tolerance
        self.lock_wait = lock_wait
        self.hiveserver2_conn_id = hiveserver2_conn_id
        self.zookeeper_conn_id = zookeeper_conn_id
        self._hive: BoundedHiveServer2Hook | None = None

    def execute(self, context) -> list[dict]:
        self._hive = hive = BoundedHiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        params = ReportParams(database=self.database, hdfs_root=self.hdfs_root, top_hosts=int(self.top_hosts),
                              interval_tolerance=float(self.interval_tolerance))
        plans = [HourPlan.from_dict(plan) for plan in self.plans]
        with ZooKeeperHook(self.zookeeper_conn_id).session() as zookeeper, \
                report_lock(zookeeper, self.database, wait=self.lock_wait, progress=self.log.info,
                            writer=f"{self.dag_id}.{self.task_id} {context['run_id']}",
                            end_statement=hive.end_statement) as held:
            hive.guard = held.check  # a writer that lost the lock (paused past its session) sends nothing more
            hive.on_submit = held.record_statement  # ... and the next holder ends the statement it had sent
            reported = report_planned_hours(partial(hive.run, split_statements=True), hive.get_records, plans,
                                            params=params, run_id=context["run_id"])
        for plan in reported:
            self.log.info("%s %s: reported as version %d (%s)", plan.topic, plan.key, plan.version, plan.completeness)
        return [plan.as_dict() for plan in reported]

    def on_kill(self) -> None:
        # a killed report must not go on overwriting partitions on the server after its lock is gone
        if self._hive is not None:
            self.log.info("killed: cancelled %d running HiveServer2 statement(s)", self._hive.cancel_running())


class WriteReportFilesOperator(BaseOperator):
    """Write each planned hour's reports as CSV files and a PNG chart, and log where they are.

    :param hours: the report task's XCom (templated)
    :param database: the reports' Hive database (templated)
    :param reports_dir: the folder of report files (templated)
    :param hiveserver2_conn_id: the HiveServer2 connection
    """

    template_fields: Sequence[str] = ("hours", "database", "reports_dir")

    def __init__(
        self,
        *,
        hours: Any,
        database: str,
        reports_dir: str,
        hiveserver2_conn_id: str = BoundedHiveServer2Hook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hours = hours
        self.database = database
        self.reports_dir = reports_dir
        self.hiveserver2_conn_id = hiveserver2_conn_id

    def execute(self, context) -> list[str]:
        from logstream.hive.report_files import export_hour  # matplotlib: not at DAG parse time

        hive = BoundedHiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        written = []
        for plan in self.hours:
            paths = export_hour(
                hive.get_records, database=self.database, topic=plan["topic"], key=plan["key"], reports_dir=self.reports_dir
            )
            self.log.info("%s %s (version %d): report files in %s: %s", plan["topic"], plan["key"], plan["version"],
                          paths[0].parent, ", ".join(path.name for path in paths))
            written.extend(str(path) for path in paths)
        return written
