from __future__ import annotations

import csv

from logstream.hive.report_files import CHART_NAME, export_hour
from logstream.hive.reports import REPORTS

ROWS = {
    "report_records_per_config": [(1019491, 40, 7, 2), (1019508, 25, 5, 2)],
    "report_records_per_host": [("192.168.10.1", 30, 2, 1767222000, 1767225000, 2)],
    "report_top_hosts": [(1, "192.168.10.1", 30, 0.46, 2)],
    "report_new_hosts": [],
    "report_interval_outliers": [("192.168.10.1", 1019491, 1767222060, 2100, 300, 2)],
    "report_quarantine_reasons": [("bad_host", 3, 2)],
}


def fake_query(sql: str):
    if "concat(dt, 'T', hour) AS hour_key" in sql:
        assert "config_id IN (1019491, 1019508)" in sql
        return [("2025-12-31T22", 1019491, 12), ("2025-12-31T23", 1019491, 40), ("2025-12-31T23", 1019508, 25)]
    table = sql.split("FROM ", 1)[1].split()[0].split(".")[1]
    assert "dt = '2025-12-31' AND hour = '23'" in sql
    return ROWS[table]


def test_one_csv_per_report_and_a_chart_per_hour(tmp_path):
    paths = export_hour(fake_query, database="db", topic="security_logs", key="2025-12-31T23", reports_dir=tmp_path)

    folder = tmp_path / "security_logs" / "2025-12-31" / "23"
    assert sorted(paths) == sorted([folder / f"{report.name}.csv" for report in REPORTS] + [folder / CHART_NAME])
    with (folder / "records_per_config.csv").open() as table:
        assert list(csv.reader(table)) == [["config_id", "records", "hosts", "version"], ["1019491", "40", "7", "2"], ["1019508", "25", "5", "2"]]
    with (folder / "interval_outliers.csv").open() as table:
        assert next(csv.reader(table)) == ["host", "config_id", "start_time", "interval", "usual_interval", "version"]
    with (folder / "new_hosts.csv").open() as table:
        assert list(csv.reader(table)) == [["host", "first_seen", "records", "version"]]
    chart = (folder / CHART_NAME).read_bytes()
    assert chart.startswith(b"\x89PNG") and len(chart) < 100_000
    assert not list(folder.glob(".*"))
