"""The reconciliation of an hour's online counts (the result database) with its offline reports (Hive)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from hooks.hiveserver2 import BoundedHiveServer2Hook
from logstream.log_hours.hours import parse_hour_key
from logstream.pipeline_config import load_pipeline_config
from logstream.results.store import ensure_schema
from logstream.reconciliation.online_offline import (
    DIFFERENT,
    offline_hour_counts,
    online_hour_counts,
    reconcile_hour,
    save_reconciliation,
)
from logstream.reconciliation.reconciliation_files import write_reconciliation_files
from operators.storm_topology import RESULTS_CONN_ID
from sensors.complete_hours import run_hours


class ReconciliationMismatch(AirflowException):
    """Online and offline counts of an hour differ beyond what expired online records explain."""


class ReconcileHoursOperator(BaseOperator):
    """Compare each hour of the run (its data interval, or the hours ``hours`` names) online and
    offline (``logstream.reconciliation.online_offline``), per Configuration ID and per host; write
    the comparison into ``reconciliation_hours``/``reconciliation_keys`` of the result database and
    as CSV and PNG files beside the hour's reports; fail naming the differing keys.

    Returns one summary line per hour.

    :param topic: the Kafka topic
    :param database: the reports' Hive database (templated)
    :param reports_dir: the folder of report files (templated)
    :param hours: hour keys to compare instead of the data interval's (templated; optional)
    :param results_conn_id: the result database's PostgreSQL connection
    :param hiveserver2_conn_id: the HiveServer2 connection
    """

    template_fields: Sequence[str] = ("database", "reports_dir", "hours")
    ui_color = "#e4f0e8"

    def __init__(self, *, topic: str, database: str, reports_dir: str, hours: Any = None,
                 results_conn_id: str = RESULTS_CONN_ID,
                 hiveserver2_conn_id: str = BoundedHiveServer2Hook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.database = database
        self.reports_dir = reports_dir
        self.hours = hours
        self.results_conn_id = results_conn_id
        self.hiveserver2_conn_id = hiveserver2_conn_id

    def execute(self, context) -> list[str]:
        hive = BoundedHiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        results = PostgresHook(postgres_conn_id=self.results_conn_id)
        keys = self._within_retention(results, sorted(self.hours) if self.hours else run_hours(context, self.topic))
        summaries, differing = [], []
        connection = results.get_conn()
        try:
            ensure_schema(connection, say=self.log.info)  # the reconciliation's tables may not exist yet
            for key in keys:
                offline = offline_hour_counts(hive.get_records, self.database, self.topic, key)
                if offline is None:
                    raise AirflowException(f"{self.topic} {key} has no Hive report in {self.database}: nothing to compare")
                online = online_hour_counts(results.get_records, self.topic, key)
                result = reconcile_hour(self.topic, key, online, offline)
                save_reconciliation(connection, result)
                files = write_reconciliation_files(self.reports_dir, result)
                self.log.info("%s; files: %s", result.summary(), ", ".join(str(path) for path in files))
                summaries.append(result.summary())
                if result.status == DIFFERENT:
                    differing.append(result.summary())
        finally:
            connection.close()
        if differing:
            raise ReconciliationMismatch("online and offline counts differ:\n" + "\n".join(differing))
        return summaries

    def _within_retention(self, results: PostgresHook, keys: list[str]) -> list[str]:
        """The hours whose online counts the result store still keeps (``results_retention.panes_days``
        by the database's clock, which its retention deletes by); the others are named in the log, and
        a run with none left is skipped rather than reported as differing."""
        days = load_pipeline_config().results_retention.panes_days
        if days is None or not keys:
            return keys
        [(now,)] = results.get_records("SELECT now()")
        kept_from = now - timedelta(days=days)
        retired = [key for key in keys if parse_hour_key(key) < kept_from]
        if retired:
            self.log.warning("%s: the online counts of %s are past the result store's retention (%g days, "
                             "results_retention.panes_days): not reconciled", self.topic, ", ".join(retired), days)
        kept = [key for key in keys if key not in retired]
        if not kept:
            raise AirflowSkipException(f"{self.topic}: every hour of the run ({', '.join(retired)}) is older than the "
                                       f"result store's retention of online counts ({days:g} days): nothing to reconcile")
        return kept
