"""The report freshness check on the stack's HDFS and Hive: hours the test landed and reported (or
not) through the real report HQL; the hours named overdue are those the test knows it left
unreported, never what the code under test computed."""

from __future__ import annotations

import re
from functools import partial

import pytest

from hooks.hiveserver2 import BoundedHiveServer2Hook
from landed_logs import LandedLogs
from log_times import hour_name, hour_start_ago
from logstream.hive.reporting import ReportParams, report_hours
from operators.report_freshness import CheckReportFreshnessOperator, ReportsOverdue


# a named hour's line: "<topic> <hour>: <n> file(s), the last landed <when>, <how it was reported>"
HOUR_LINE = re.compile(r"(?P<topic>\S+) (?P<key>\S+): \d+ file\(s\), the last landed [^,]+, (?P<reported>.+)")


@pytest.fixture
def landed(hdfs_client, unique_name):
    yield LandedLogs(hdfs_client, f"/tests/{unique_name}/logs")
    hdfs_client.delete(f"/tests/{unique_name}", recursive=True)


@pytest.fixture
def hive(unique_name):
    hive = BoundedHiveServer2Hook()
    yield hive
    hive.run(f"DROP DATABASE IF EXISTS {unique_name} CASCADE")


def test_hours_of_landed_input_without_a_report_over_them_are_named_until_reported(landed, hive, unique_name):
    """Removal check: with the fingerprint comparison in ``overdue_hours`` replaced by "any version
    reported", the restated hour is not named after its late records land (checked once)."""
    reported_hour, forgotten_hour, current_hour = hour_start_ago(6), hour_start_ago(5), hour_start_ago(0)
    for number, start in enumerate((reported_hour, forgotten_hour, current_hour)):
        landed.land_hour(hour_name(start), count=120, seed=number + 1, hosts=12)

    def report(*starts: int, run_id: str) -> None:
        report_hours(partial(hive.run, split_statements=True), hive.get_records, landed.client, topic=landed.topic,
                     keys=[hour_name(start) for start in starts],
                     params=ReportParams(database=unique_name, hdfs_root=landed.root), run_id=run_id)

    def check(max_delay_minutes: float) -> int:
        return CheckReportFreshnessOperator(task_id="report_freshness", topic=landed.topic, hdfs_root=landed.root,
                                            database=unique_name, lateness_minutes=30,
                                            max_delay_minutes=max_delay_minutes, lookback_hours=48).execute({})

    # nothing reported yet, not even the tables: both past hours are overdue, the current one is not due
    with pytest.raises(ReportsOverdue) as error:
        check(0)
    assert _named(error) == {hour_name(reported_hour): "never reported", hour_name(forgotten_hour): "never reported"}

    report(reported_hour, run_id="first")
    with pytest.raises(ReportsOverdue) as error:
        check(0)
    assert _named(error) == {hour_name(forgotten_hour): "never reported"}
    # its files landed a moment ago: with an hour's grace after landing it is not overdue yet
    assert check(60) == 1

    # late records for the reported hour: its input is new, and no report covers it
    landed.land([f"10.97.0.{i},1019491,{reported_hour + 60 * i},300".encode() for i in range(1, 5)],
                timestamp_ms=(reported_hour + 4000) * 1000)
    with pytest.raises(ReportsOverdue) as error:
        check(0)
    assert _named(error) == {hour_name(reported_hour): "1 version(s) reported, none over this input",
                             hour_name(forgotten_hour): "never reported"}

    report(reported_hour, forgotten_hour, run_id="catch_up")
    assert check(0) == 2


def _named(error: pytest.ExceptionInfo) -> dict[str, str]:
    """hour key -> how the failure says it was reported, from each named hour's line."""
    lines = [HOUR_LINE.fullmatch(line) for line in str(error.value).splitlines()[1:]]
    assert all(lines), str(error.value)
    return {line["key"]: line["reported"] for line in lines}
