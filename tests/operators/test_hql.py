"""hive_reports' tasks render from the plan alone: no logical date needed (asset-triggered runs have none)."""

from __future__ import annotations

from airflow.dag_processing.dagbag import DagBag
from dag_runs import DAGS

from logstream.hive.report_plan import HourFolder, HourPlan

PLAN = HourPlan(
    topic="security_logs", key="2026-01-01T00", dt="2026-01-01", hour="00", start=1767225600, end=1767229200,
    version=3, fingerprint="f00d", files=2, bytes=512, lookback_dt="2025-12-31", lookback_hour="00",
    log_partitions=(HourFolder("2026-01-01", "00", "/logs/security_logs/dt=2026-01-01/hour=00"),),
    quarantine_partitions=(),
)


class PlannedTaskInstance:
    def xcom_pull(self, task_ids, key="return_value", **_):
        assert task_ids == "security_logs.plan"
        return {"return_value": [PLAN.as_dict()], "partition_clause": "topic = 'security_logs' AND (dt = '2026-01-01' AND hour = '00')"}[key]


def render(task_id: str):
    dag = DagBag(str(DAGS / "hive_reports.py")).get_dag("hive_reports")
    task = dag.get_task(task_id)
    params = {**{name: param.value for name, param in task.params.items()}, "database": "db"}
    context = {"params": params, "ti": PlannedTaskInstance(), "run_id": "asset_triggered__2026-01-01T01:05:00", "dag": dag, "task": task}
    task.render_template_fields(context, jinja_env=dag.get_template_env())
    return task


def test_the_report_task_renders_the_planned_hours_without_a_logical_date():
    task = render("security_logs.report")
    assert task.plans == [PLAN.as_dict()]
    assert (task.database, task.hdfs_root, task.top_hosts, task.interval_tolerance) == ("db", "/logs", "10", "2")


def test_the_checks_render_for_the_planned_hours():
    assert "WHERE topic = 'security_logs' AND (dt = '2026-01-01' AND hour = '00')" in render("security_logs.check_totals").sql
    assert "FROM db.report_records_per_host WHERE topic = 'security_logs'" in render("security_logs.check_records_per_host_keys").sql
