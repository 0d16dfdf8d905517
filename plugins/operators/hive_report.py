"""The hive_reports tasks that need more than a SQL statement: planning the hours, writing report files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from logstream.hive.hours import hours_clause
from logstream.hive.reporting import plan_report_hours


class PlanReportHoursOperator(BaseOperator):
    """Plan the reports of ``hours`` of ``topic``: folders to register, input fingerprints, versions.

    Returns one ``HourPlan`` dict per hour (``include/hql/report.hql`` renders from them) and pushes
    the hours' WHERE clause as XCom ``partition_clause`` for the data-quality checks.

    :param topic: the Kafka topic
    :param hours: hour keys ``YYYY-MM-DDTHH`` (templated; usually the sensor's XCom)
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
        hiveserver2_conn_id: str = HiveServer2Hook.default_conn_name,
        webhdfs_conn_id: str = WebHDFSHook.default_conn_name,
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
        hive = HiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        client = WebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        keys = sorted(set(self.hours or []))
        if not keys:
            raise AirflowSkipException(f"no hours of {self.topic} to report")
        plans = plan_report_hours(hive.get_records, client, topic=self.topic, keys=keys, database=self.database,
                                  hdfs_root=self.hdfs_root, lookback_hours=self.lookback_hours)
        for plan in plans:
            self.log.info(
                "%s %s: version %d over %d files (%d bytes), fingerprint %s",
                self.topic, plan.key, plan.version, plan.files, plan.bytes, plan.fingerprint,
            )
        context["ti"].xcom_push(key="partition_clause", value=hours_clause(self.topic, keys))
        return [plan.as_dict() for plan in plans]


class WriteReportFilesOperator(BaseOperator):
    """Write each planned hour's reports as CSV files and a PNG chart, and log where they are.

    :param hours: the plan task's XCom (templated)
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
        hiveserver2_conn_id: str = HiveServer2Hook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hours = hours
        self.database = database
        self.reports_dir = reports_dir
        self.hiveserver2_conn_id = hiveserver2_conn_id

    def execute(self, context) -> list[str]:
        from logstream.hive.report_files import export_hour  # matplotlib: not at DAG parse time

        hive = HiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        written = []
        for plan in self.hours:
            paths = export_hour(
                hive.get_records, database=self.database, topic=plan["topic"], key=plan["key"], reports_dir=self.reports_dir
            )
            self.log.info("%s %s (version %d): report files in %s: %s", plan["topic"], plan["key"], plan["version"],
                          paths[0].parent, ", ".join(path.name for path in paths))
            written.extend(str(path) for path in paths)
        return written
