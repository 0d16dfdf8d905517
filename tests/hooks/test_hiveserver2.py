"""BoundedHiveServer2Hook and the HQL operators on the stack's Spark Thrift server: a statement
over its bound is cancelled on the server, and a killed task's statement stops there.

Whether a statement still runs is read from Spark itself (its REST API lists the jobs, each with
the statement as its description), never from the hook.
"""

from __future__ import annotations

import threading

import pytest

from hooks.hiveserver2 import BoundedHiveServer2Hook, HiveStatementCancelled, HiveStatementTimeout
from online_stats import wait_for
from spark_jobs import running, spark_jobs
from operators.hql import HqlOperator

# about 10^14 rows: hours of work on two cores, so only a cancel ends it within the test
ENDLESS_ROWS = "range(0, 100000000000000, 1, 2)"


def in_background(work) -> list:
    """Run ``work`` in a thread; the returned list gets its outcome (None, or what it raised)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - the outcome is the assertion
            outcome.append(error)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def test_a_statement_over_its_bound_is_cancelled_on_the_server(stack, unique_name):
    """Removal check: without the deadline in ``run_bounded`` (``if time.monotonic() >= deadline``)
    the statement runs on and the first wait fails. (The explicit cancel beside it is also done by
    closing the caller's connection here; it is there for a caller whose connection cannot close.)"""
    hook = BoundedHiveServer2Hook(statement_timeout=6)
    try:
        outcome = in_background(lambda: hook.get_records(f"SELECT sum(id % 7) AS {unique_name} FROM {ENDLESS_ROWS}"))
        wait_for(lambda: outcome, timeout=90, what="the statement ending at its 6 s bound")
    finally:
        hook.cancel_running()  # whatever the outcome, nothing of the test goes on running
    assert isinstance(outcome[0], HiveStatementTimeout) and "ran over 6s" in str(outcome[0]), outcome
    assert spark_jobs(stack, unique_name), "the statement reached Spark"
    wait_for(lambda: not running(stack, unique_name), timeout=60, what="the timed-out statement's job stopping")
    # the connection is usable for the next statement
    assert hook.get_records("SELECT 1 + 1") == [(2,)]


def test_a_killed_hql_task_cancels_its_statement_on_the_server(stack, unique_name):
    """``on_kill`` (Airflow runs it in the task's SIGTERM handler) while the task's statement runs:
    the statement stops on the server and writes nothing. Removal check: with ``BoundedHiveSql.on_kill``
    cancelling nothing, the job stays RUNNING and the task does not end."""
    table = f"default.{unique_name}"
    BoundedHiveServer2Hook().run(f"CREATE TABLE {table} (total BIGINT) STORED AS PARQUET")
    task = HqlOperator(task_id="endless_insert",
                       sql=f"INSERT OVERWRITE TABLE {table} SELECT sum(id % 7) AS {unique_name} FROM {ENDLESS_ROWS}")
    try:
        outcome = in_background(lambda: task.execute(context={}))
        wait_for(lambda: running(stack, unique_name), timeout=60, what="the task's statement running on Spark")
        task.on_kill()
        wait_for(lambda: outcome, timeout=60, what="the killed task's execute ending")
        assert isinstance(outcome[0], HiveStatementCancelled), outcome
        wait_for(lambda: not running(stack, unique_name), timeout=60, what="the killed task's job stopping")
    finally:
        task.get_db_hook().cancel_running()  # whatever the outcome, nothing of the test goes on running
    assert BoundedHiveServer2Hook().get_records(f"SELECT count(*) FROM {table}") == [(0,)]
