"""The report HQL on the stack's Hive over generated logs in HDFS, against rows computed in Python."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from functools import partial

from landed_logs import expected_reports, hours_across_midnight, report_rows
from logstream.log_hours.hours import parse_hour_key
from logstream.hive.hql import render
from logstream.hive.reporting import ReportParams, plan_report_hours, report_hours, report_planned_hours
from logstream.hive.reports import REPORTS


def run_reports(hive, landed, database, keys, run_id):
    return report_hours(
        partial(hive.run, split_statements=True),
        hive.get_records,
        landed.client,
        topic=landed.topic,
        keys=keys,
        params=ReportParams(database=database, hdfs_root=landed.root),
        run_id=run_id,
    )


def test_reports_across_midnight_then_a_restatement_of_late_records(hive, landed, database):
    before_midnight, after_midnight = hours_across_midnight(datetime(2025, 12, 31), count=2)
    landed.land_hour(before_midnight, count=450, seed=1, hosts=30)
    landed.land_hour(after_midnight, count=450, seed=2, hosts=45)

    plans = run_reports(hive, landed, database, [before_midnight, after_midnight], "first")
    assert [(plan.key, plan.version) for plan in plans] == [(before_midnight, 1), (after_midnight, 1)]
    for key in (before_midnight, after_midnight):
        expected = expected_reports(landed, key, version=1)
        assert all(expected.values()), "the generated data gives every report rows"
        assert report_rows(hive.get_records, database, key) == expected, key

    # late records for the hour before midnight (the HadoopConsumer announces it again): version 2
    start = int(parse_hour_key(before_midnight).timestamp())
    landed.land([f"10.99.0.{i},1019491,{start + 60 * i},300".encode() for i in range(1, 7)], timestamp_ms=(start + 4000) * 1000)
    [plan] = run_reports(hive, landed, database, [before_midnight], "restated")
    assert plan.version == 2
    assert report_rows(hive.get_records, database, before_midnight) == expected_reports(landed, before_midnight, version=2)
    assert sorted(hive.get_records(f"SELECT dt, hour, version, run_id, records FROM {database}.report_runs")) == [
        (*before_midnight.split("T"), 1, "first", len(landed.entries[before_midnight]) - 6),
        (*before_midnight.split("T"), 2, "restated", len(landed.entries[before_midnight])),
        (*after_midnight.split("T"), 1, "first", len(landed.entries[after_midnight])),
    ]


def test_report_tables_have_the_columns_the_exports_read(hive, landed, database):
    hive.run(render("create_tables.hql", params={"database": database, "hdfs_root": landed.root}), split_statements=True)
    for report in REPORTS:
        columns = [row[0].strip() for row in hive.get_records(f"SHOW COLUMNS IN {database}.{report.table}")]
        assert columns == [*(column.strip("`") for column in report.columns), "topic", "dt", "hour"]


def test_overlapping_runs_never_take_the_same_version(hive, landed, database):
    """Run A plans the hour; a late batch lands; run B plans it before A has reported: both plans see
    the same history. Their reports run one after the other here (the report lock orders real overlaps:
    tests/operators/test_hive_report.py), and take 1 and 2. Removal check: with ``report_planned_hours``
    keeping the plan's version instead of ``assign_version(...)`` from the history it reads again,
    both take version 1 and the test fails."""
    [key] = hours_across_midnight(datetime(2026, 3, 1), count=1)
    landed.land_hour(key, count=200, seed=3, hosts=20)
    params = ReportParams(database=database, hdfs_root=landed.root)
    execute = partial(hive.run, split_statements=True)
    execute(render("create_tables.hql", params=asdict(params)))

    def plan(how):
        return plan_report_hours(hive.get_records, landed.client, topic=landed.topic, keys=[key], database=database,
                                 hdfs_root=landed.root, lookback_hours=24, completeness={key: how})

    [planned_a] = plan("lateness_elapsed")
    start = int(parse_hour_key(key).timestamp())
    landed.land([f"10.98.0.{i},1019491,{start + 30 * i},300".encode() for i in range(1, 5)], timestamp_ms=(start + 3700) * 1000)
    [planned_b] = plan("watermarks")
    assert planned_a.fingerprint != planned_b.fingerprint

    [reported_a] = report_planned_hours(execute, hive.get_records, [planned_a], params=params, run_id="a")
    [reported_b] = report_planned_hours(execute, hive.get_records, [planned_b], params=params, run_id="b")
    assert (reported_a.version, reported_b.version) == (1, 2)
    assert sorted(hive.get_records(f"SELECT version, run_id, fingerprint, completeness FROM {database}.report_runs")) == [
        (1, "a", planned_a.fingerprint, "lateness_elapsed"),
        (2, "b", planned_b.fingerprint, "watermarks"),
    ]
    assert report_rows(hive.get_records, database, key) == expected_reports(landed, key, version=2)
