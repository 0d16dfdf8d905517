"""The HQL templates under include/hql render from a plan, without Airflow."""

from __future__ import annotations

from logstream.hive.hql import render
from logstream.hive.report_plan import HourFolder, HourPlan

PLAN = HourPlan(
    topic="security_logs", key="2026-01-01T00", dt="2026-01-01", hour="00", start=1767225600, end=1767229200,
    version=3, fingerprint="f00d", files=2, bytes=512, lookback_dt="2025-12-31", lookback_hour="00",
    log_partitions=(HourFolder("2026-01-01", "00", "/logs/security_logs/dt=2026-01-01/hour=00"),),
    quarantine_partitions=(), completeness="lateness_elapsed",
)
PARAMS = {"database": "db", "hdfs_root": "/logs", "top_hosts": 10, "interval_tolerance": 2}


def test_an_hour_renders_every_report_and_its_version_row():
    sql = render("report_hour.hql", h=PLAN.as_dict(), params=PARAMS, run_id="asset_triggered__2026-01-01T01:05:00")
    assert "ALTER TABLE db.logs ADD IF NOT EXISTS" in sql
    assert "LOCATION '/logs/security_logs/dt=2026-01-01/hour=00'" in sql
    assert "ALTER TABLE db.quarantine" not in sql
    for table in ("records_per_config", "records_per_host", "top_hosts", "new_hosts", "interval_outliers", "quarantine_reasons"):
        assert f"INSERT OVERWRITE TABLE db.report_{table} PARTITION (topic = 'security_logs', dt = '2026-01-01', hour = '00')" in sql
    assert "3 AS version" in sql
    assert "'asset_triggered__2026-01-01T01:05:00', CAST(current_timestamp() AS STRING), 'lateness_elapsed'" in sql


def test_a_plan_survives_xcom():
    assert HourPlan.from_dict(PLAN.as_dict()) == PLAN
