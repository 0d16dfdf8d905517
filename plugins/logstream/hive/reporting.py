"""The offline reports of some hours, end to end, without a scheduler (the benchmark, the HQL tests).

The hive_reports DAG does the same in tasks (create tables, plan, report), rendering the same
templates through Airflow. ``execute`` runs an HQL script (statements separated by ``;``) and
``query`` returns a SELECT's rows; with Airflow's Hive provider they are
``partial(HiveServer2Hook().run, split_statements=True)`` and ``HiveServer2Hook().get_records``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace

from logstream.hive.hql import render
from logstream.hive.report_plan import HourPlan, assign_version, history_by_hour, plan_hours

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
                      lookback_hours: int, completeness: Mapping[str, str] | None = None) -> list[HourPlan]:
    """Each hour's plan (keys ``YYYY-MM-DDTHH``): its files in HDFS and its version in the report history.

    The version is provisional: :func:`report_planned_hours` takes it again when it reports.
    """
    keys = sorted(set(keys))
    if not keys:
        return []
    history = load_history(query, database, topic, keys[0])
    return plan_hours(client, hdfs_root, topic, keys, history, lookback_hours=lookback_hours, completeness=completeness)


def report_planned_hours(execute: Execute, query: Query, plans: Sequence[HourPlan], *, params: ReportParams,
                         run_id: str) -> list[HourPlan]:
    """Report each planned hour of one topic, with the version the report history gives it now.

    Plans of overlapping runs may be made at the same time and see the same history; the version is
    therefore read again here, and the callers run this one at a time per topic (the DAG's report
    task), so that no two inputs of an hour ever take the same version.
    """
    if not plans:
        return []
    history = load_history(query, params.database, plans[0].topic, min(plan.key for plan in plans))
    reported = []
    for plan in plans:
        plan = replace(plan, version=assign_version(plan.fingerprint, history.get(plan.key, [])))
        execute(render("report_hour.hql", h=plan.as_dict(), params=asdict(params), run_id=run_id))
        reported.append(plan)
    return reported


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
    execute(render("create_tables.hql", params=asdict(params)))
    plans = plan_report_hours(query, client, topic=topic, keys=keys, database=params.database,
                              hdfs_root=params.hdfs_root, lookback_hours=params.new_host_lookback_hours)
    return report_planned_hours(execute, query, plans, params=params, run_id=run_id)
