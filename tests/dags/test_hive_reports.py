"""The hive_reports DAG for real: a backfill through the stack's scheduler (``airflow backfill create``)
and runs like the scheduled ones (``dag.test``) over three generated hours across midnight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook
from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable
from dag_runs import DAGS, unpause_for_the_test
from landed_logs import LandedLogs, expected_reports, hours_across_midnight, report_rows

from logstream.log_hours.hours import parse_hour_key
from logstream.hive.reports import REPORTS
from logstream.stack.airflow_api import AirflowApi
from logstream.stack.config import StackConfig
from logstream_assets import logs_asset

DAG_FILE = DAGS / "hive_reports.py"
DAG_ID = "hive_reports"
# three runs of Spark jobs on a shared 2-core machine: a bound for a hang, not a speed test
BACKFILL_TIMEOUT = 1200


def test_the_dag_is_hourly_on_data_intervals_and_on_the_consumers_asset(stack):
    dag = DagBag(str(DAG_FILE)).get_dag(DAG_ID)
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.timetable == CronDataIntervalTimetable("0 * * * *", timezone="UTC")
    assert dag.timetable.asset_condition.objects == (logs_asset("security_logs"),)
    group = [task.task_id for task in dag.tasks if task.task_id.startswith("security_logs.")]
    assert group == [
        "security_logs.wait_for_complete_hours", "security_logs.plan", "security_logs.report",
        "security_logs.check_totals", "security_logs.check_records_per_config_keys",
        "security_logs.check_records_per_host_keys", "security_logs.check_report_runs", "security_logs.write_report_files",
    ]
    assert dag.get_task("security_logs.wait_for_complete_hours").mode == "reschedule"


def api() -> AirflowApi:
    return AirflowApi.for_stack(StackConfig())


def airflow_cli(*args: str) -> str:
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "airflow"), *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def wait_for_backfill_runs(first: datetime, last: datetime, count: int) -> list[dict]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    query = {"run_type": "backfill", "logical_date_gte": first.isoformat(), "logical_date_lte": last.isoformat()}
    while time.monotonic() < deadline:
        runs = api().runs(DAG_ID, **query)
        if len(runs) == count and all(run["state"] in ("success", "failed") for run in runs):
            return runs
        time.sleep(3)
    raise AssertionError(f"the backfill did not finish in {BACKFILL_TIMEOUT}s: {api().runs(DAG_ID, **query)}")


def reported_every_hour(run_id: str) -> bool:
    """Whether the run reported (a run whose plan found no hour skips the rest and still succeeds)."""
    states = {ti["task_id"]: ti["state"] for ti in api().task_instances(DAG_ID, run_id)}
    return states.get("security_logs.report") == "success" and states.get("security_logs.write_report_files") == "success"


def run_interval(run_id: str) -> tuple[datetime, datetime]:
    run = api().run(DAG_ID, run_id)
    return datetime.fromisoformat(run["data_interval_start"]), datetime.fromisoformat(run["data_interval_end"])


def failed_tasks(run_id: str) -> list[str]:
    instances = api().task_instances(DAG_ID, run_id)
    return [f"{ti['task_id']}={ti['state']}" for ti in instances if ti["state"] != "success"]


def cancel_running_backfills() -> None:
    for backfill in api().backfills(DAG_ID):
        if backfill["completed_at"] is None:
            api().cancel_backfill(backfill["id"])


@pytest.fixture
def scratch(stack, unique_name, tmp_path):
    """A fresh HDFS root, two Hive databases (backfill, scheduled-like runs) and reports folders."""
    client = WebHDFSHook().get_conn()
    hive = HiveServer2Hook()
    databases = {"backfill": f"{unique_name}_b", "scheduled": f"{unique_name}_s"}
    cancel_running_backfills()  # one backfill per DAG at a time: one a failed test left running goes
    yield LandedLogs(client, f"/tests/{unique_name}/logs"), databases, tmp_path
    cancel_running_backfills()
    for database in databases.values():
        hive.run(f"DROP DATABASE IF EXISTS {database} CASCADE")
    client.delete(f"/tests/{unique_name}", recursive=True)


def test_backfill_gives_the_rows_of_scheduled_runs_and_a_rerun_changes_nothing(scratch, request):
    landed, databases, tmp_path = scratch
    hive = HiveServer2Hook()
    # a day of its own, so that this test's logical dates are not another session's
    day = datetime(2001, 1, 1) + timedelta(days=uuid.uuid4().int % 8000)
    keys = hours_across_midnight(day, count=3)
    for i, key in enumerate(keys):
        landed.land_hour(key, count=300, seed=10 + i, hosts=25 + 10 * i)
    landed.commit_offsets(watermark=int(parse_hour_key(keys[-1]).timestamp()) + 3600)
    conf = {
        name: {"database": database, "hdfs_root": landed.root, "reports_dir": str(tmp_path / name)}
        for name, database in databases.items()
    }
    starts = [parse_hour_key(key) for key in keys]

    # the backfill, through the stack's scheduler (which only runs unpaused DAGs; the demo unpauses it too),
    # on the DAG as the stack's dag-processor serialized it
    api().wait_for_dag(DAG_ID)
    unpause_for_the_test(api(), DAG_ID, request)
    airflow_cli(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", starts[0].isoformat(), "--to-date", starts[-1].isoformat(),
        "--max-active-runs", "3", "--reprocess-behavior", "none",
        "--dag-run-conf", json.dumps(conf["backfill"]),
    )
    # meanwhile, runs like the hourly scheduled ones: same data intervals (a logical date half an
    # hour into the next hour infers the interval of the hour before). Through the same scheduler:
    # dag.test() in this process would race it for the runs' task instances (the DAG is unpaused).
    manual = [api().trigger(DAG_ID, conf["scheduled"], logical_date=start + timedelta(minutes=90)) for start in starts]
    for run_id in manual:
        assert api().wait_for_run(DAG_ID, run_id, timeout=BACKFILL_TIMEOUT) == "success", failed_tasks(run_id)
        assert reported_every_hour(run_id), api().task_instances(DAG_ID, run_id)
    assert sorted(run_interval(run_id) for run_id in manual) == [(start, start + timedelta(hours=1)) for start in starts]
    backfill_runs = wait_for_backfill_runs(starts[0], starts[-1], len(starts))
    assert [run["state"] for run in backfill_runs] == ["success"] * len(starts), {
        run["dag_run_id"]: failed_tasks(run["dag_run_id"]) for run in backfill_runs
    }
    assert all(reported_every_hour(run["dag_run_id"]) for run in backfill_runs)
    assert sorted(datetime.fromisoformat(run["data_interval_start"]) for run in backfill_runs) == starts

    for key in keys:
        expected = expected_reports(landed, key, version=1)
        assert report_rows(hive.get_records, databases["scheduled"], key) == expected, key
        assert report_rows(hive.get_records, databases["backfill"], key) == expected, key
        folder = tmp_path / "backfill" / "security_logs" / key[:10] / key[11:]
        assert sorted(path.name for path in folder.iterdir()) == sorted([f"{r.name}.csv" for r in REPORTS] + ["records_per_config.png"])

    # running a completed interval again: same rows, same version, no new report_runs row, same CSV
    runs_before = sorted(hive.get_records(f"SELECT * FROM {databases['backfill']}.report_runs"))
    csv_before = (tmp_path / "backfill" / "security_logs" / keys[-1][:10] / keys[-1][11:] / "records_per_host.csv").read_text()
    again = api().trigger(DAG_ID, conf["backfill"], logical_date=starts[-1] + timedelta(minutes=100))
    assert api().wait_for_run(DAG_ID, again, timeout=BACKFILL_TIMEOUT) == "success", failed_tasks(again)
    assert reported_every_hour(again)
    assert report_rows(hive.get_records, databases["backfill"], keys[-1]) == expected_reports(landed, keys[-1], version=1)
    assert sorted(hive.get_records(f"SELECT * FROM {databases['backfill']}.report_runs")) == runs_before
    assert len(runs_before) == 3 and {row[3] for row in runs_before} == {1}
    csv_again = (tmp_path / "backfill" / "security_logs" / keys[-1][:10] / keys[-1][11:] / "records_per_host.csv").read_text()
    assert csv_again == csv_before
