"""The offline reports on the cluster: Spark's Thrift server on its own host, its warehouse and the
landed hours on the cluster's HDFS (3 DataNodes), reached through an Airflow connection made of the
cluster's addresses alone. The report rows equal those computed here from the landed entries."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from landed_logs import LandedLogs, expected_reports, hours_across_midnight, report_rows

from logstream.hive.reporting import ReportParams, report_hours


def test_the_reports_of_an_hour_on_the_cluster_equal_its_landed_entries(cluster, cluster_hdfs, cluster_hive,
                                                                        unique_name):
    landed = LandedLogs(cluster_hdfs, f"/tests/{unique_name}/logs")
    before_midnight, after_midnight = hours_across_midnight(datetime(2026, 3, 1), count=2)
    landed.land_hour(before_midnight, count=600, seed=11, hosts=30)
    landed.land_hour(after_midnight, count=600, seed=12, hosts=40)
    try:
        plans = report_hours(partial(cluster_hive.run, split_statements=True), cluster_hive.get_records, cluster_hdfs,
                             topic=landed.topic, keys=[before_midnight, after_midnight],
                             params=ReportParams(database=unique_name, hdfs_root=landed.root), run_id="cluster")
        assert [(plan.key, plan.version) for plan in plans] == [(before_midnight, 1), (after_midnight, 1)]
        for key in (before_midnight, after_midnight):
            expected = expected_reports(landed, key, version=1)
            assert all(expected.values()), "the generated data gives every report rows"
            assert report_rows(cluster_hive.get_records, unique_name, key) == expected, key
    finally:
        cluster_hive.run(f"DROP DATABASE IF EXISTS {unique_name} CASCADE")
        cluster_hdfs.delete(f"/tests/{unique_name}", recursive=True)
