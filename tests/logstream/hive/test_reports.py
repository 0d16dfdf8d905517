"""Each report definition has its HQL file, its table in the DDL, and checks that name real columns."""

from __future__ import annotations

import re

from logstream.hive.hql import HQL_DIR, render
from logstream.hive.reports import KEY_CHECKS, REPORTS, REPORTS_BY_NAME


def created_columns() -> dict[str, list[str]]:
    """Each table's columns as ``create_tables.hql`` declares them (read here, apart from reports.py)."""
    ddl = render("create_tables.hql", params={"database": "db", "hdfs_root": "/logs"})
    tables = re.findall(r"CREATE (?:EXTERNAL )?TABLE IF NOT EXISTS db\.(\w+) \((.*?)\n\)", ddl, flags=re.S)
    return {
        table: [line.split()[0] for line in body.splitlines() if line.strip() and not line.strip().startswith("--")]
        for table, body in tables
    }


def test_every_report_has_its_hql_file_and_its_table():
    columns = created_columns()
    for report in REPORTS:
        assert (HQL_DIR / "reports" / f"{report.name}.hql").is_file(), report.name
        assert columns[report.table] == list(report.columns), report.table
    assert sorted(path.stem for path in (HQL_DIR / "reports").glob("*.hql")) == sorted(REPORTS_BY_NAME)


def test_key_checks_name_columns_of_their_reports():
    for name, mapping in KEY_CHECKS.items():
        assert set(mapping) <= set(REPORTS_BY_NAME[name].columns), name


def test_report_runs_records_how_complete_each_hour_was():
    assert created_columns()["report_runs"][-1] == "completeness"
