"""The offline reports of some hours, end to end, without a scheduler (the benchmark, the HQL tests).

The hive_reports DAG does the same in tasks (create tables, plan, report), rendering the same
templates through Airflow. ``execute`` runs an HQL script (statements separated by ``;``) and
``query`` returns a SELECT's rows; with Airflow's Hive provider they are
``partial(HiveServer2Hook().run, split_statements=True)`` and ``HiveServer2Hook().get_records``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

from logstream.hive.hql import render
from logstream.hive.report_plan import HourPlan, history_by_hour, plan_hours

Execute = Callable[[str], object]
Query = Callable[[str], Sequence[Sequence]]


@dataclass(frozen=True)
class ReportParams:
    """What the HQL templates know as ``params``."""

    database: str
    hdfs_root: str
    top_hosts: int = 10
    interval_tolerance: float = 2
    new_host_lookback_hours: int = 24


def load_history(query: Query, database: str, topic: str, since: str) -> dict[str, list[tuple[int, str]]]:
    return history_by_hour(query(render("report_history.hql", database=database, topic=topic, since=since)))


def plan_report_hours(query: Query, client, *, topic: str, keys: Iterable[str], database: str, hdfs_root: str,
                      lookback_hours: int) -> list[HourPlan]:
    """Each hour's plan (keys ``YYYY-MM-DDTHH``): its files in HDFS and its version in the report history."""
    keys = sorted(set(keys))
    if not keys:
        return []
    history = load_history(query, database, topic, keys[0])
    return plan_hours(client, hdfs_root, topic, keys, history, lookback_hours=lookback_hours)


def report_hours(
    execute: Execute,
    query: Query,
    client,
    *,
    topic: str,
    keys: Iterable[str],
    params: ReportParams,
    run_id: str,
) -> list[HourPlan]:
    """Create the tables if needed, then report each hour (keys ``YYYY-MM-DDTHH``) of ``topic``."""
    template_params = asdict(params)
    execute(render("create_tables.hql", params=template_params))
    plans = plan_report_hours(query, client, topic=topic, keys=keys, database=params.database,
                              hdfs_root=params.hdfs_root, lookback_hours=params.new_host_lookback_hours)
    for plan in plans:
        execute(render("report_hour.hql", h=plan.as_dict(), params=template_params, run_id=run_id))
    return plans
