"""The report freshness check: hours whose landed input no report covers, long after it was due."""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from hooks.hiveserver2 import BoundedHiveServer2Hook
from hooks.webhdfs import BoundedWebHDFSHook
from logstream.hive.report_freshness import overdue_hours
from logstream.hive.report_plan import history_by_hour


class ReportsOverdue(AirflowException):
    """Hours of landed input have no report over them, long after they were due."""


class CheckReportFreshnessOperator(BaseOperator):
    """Fail naming each hour of ``topic`` whose landed input (its files' fingerprint) is in no
    ``report_runs`` row ``max_delay_minutes`` after the hour had to be reported (its end plus the
    lateness) and after its last file landed (``logstream.hive.report_freshness``): the reports
    stopped, fail, or never heard of the hour. With incident callbacks, one e-mail when the reports
    fall behind and one when they caught up.

    :param topic: the business topic
    :param hdfs_root: the HadoopConsumer's HDFS root
    :param database: the reports' Hive database
    :param lateness_minutes: the pipeline's lateness bound
    :param max_delay_minutes: how long past due an hour may stay unreported
    :param lookback_hours: how many hours back to look
    """

    def __init__(self, *, topic: str, hdfs_root: str, database: str, lateness_minutes: float,
                 max_delay_minutes: float, lookback_hours: int,
                 hiveserver2_conn_id: str = BoundedHiveServer2Hook.default_conn_name,
                 webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.hdfs_root = hdfs_root
        self.database = database
        self.lateness_minutes = lateness_minutes
        self.max_delay_minutes = max_delay_minutes
        self.lookback_hours = lookback_hours
        self.hiveserver2_conn_id = hiveserver2_conn_id
        self.webhdfs_conn_id = webhdfs_conn_id

    def execute(self, context: Any) -> int:
        hive = BoundedHiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        history = {}
        if hive.get_records(f"SHOW DATABASES LIKE '{self.database}'") and \
                hive.get_records(f"SHOW TABLES IN {self.database} LIKE 'report_runs'"):
            history = history_by_hour(hive.get_records(
                f"SELECT dt, hour, version, fingerprint FROM {self.database}.report_runs WHERE topic = '{self.topic}'"))
        else:
            self.log.warning("%s.report_runs does not exist: no hour has been reported", self.database)
        client = BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        overdue = overdue_hours(client, self.hdfs_root, self.topic, history, now=time.time(),
                                lateness_seconds=self.lateness_minutes * 60,
                                max_delay_seconds=self.max_delay_minutes * 60, lookback_hours=self.lookback_hours)
        self.log.info("%s: %d hour(s) reported in %s.report_runs; %d overdue", self.topic, len(history),
                      self.database, len(overdue))
        if overdue:
            raise ReportsOverdue(
                f"{self.topic}: {len(overdue)} hour(s) of landed input without a report over it "
                f"{self.max_delay_minutes:g} min after they were due (the hive_reports DAG stopped, fails, or "
                "missed their announcement; a run of it for these hours reports them):\n"
                + "\n".join(str(hour) for hour in overdue))
        return len(history)
