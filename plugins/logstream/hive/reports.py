"""The offline reports: one Hive table and one HQL file (``include/hql/reports/<name>.hql``) each.

The tables are made by ``include/hql/create_tables.hql``; every one is partitioned by
(topic, dt, hour) and has a ``version`` column (see report_plan.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[str, ...]
    order_by: str

    @property
    def table(self) -> str:
        return f"report_{self.name}"


REPORTS = (
    Report("records_per_config", ("config_id", "records", "hosts", "version"), "records DESC, config_id"),
    Report("records_per_host", ("host", "records", "configs", "first_seen", "last_seen", "version"), "records DESC, host"),
    Report("top_hosts", ("host_rank", "host", "records", "share", "version"), "host_rank"),
    Report("new_hosts", ("host", "first_seen", "records", "version"), "first_seen, host"),
    Report(
        "interval_outliers",
        ("host", "config_id", "start_time", "`interval`", "usual_interval", "version"),
        "config_id, start_time, host, `interval`",
    ),
    Report("quarantine_reasons", ("reason", "records", "version"), "records DESC, reason"),
)
REPORTS_BY_NAME = {report.name: report for report in REPORTS}

# Data-quality checks, in the shape of common-sql's SQLColumnCheckOperator column_mapping and
# SQLTableCheckOperator checks: no null or negative keys; every reported hour has its version row.
KEY_CHECKS = {
    "records_per_config": {
        "config_id": {"null_check": {"equal_to": 0}, "min": {"geq_to": 0}},
        "records": {"null_check": {"equal_to": 0}, "min": {"geq_to": 0}},
    },
    "records_per_host": {
        "host": {"null_check": {"equal_to": 0}},
        "records": {"null_check": {"equal_to": 0}, "min": {"geq_to": 0}},
        "first_seen": {"min": {"geq_to": 0}},
    },
}
RUN_CHECKS = {
    "version_positive": {"check_statement": "version >= 1"},
    "records_when_files": {"check_statement": "(records > 0) = (bytes > 0)"},
}
