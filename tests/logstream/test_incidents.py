"""Incidents: the list the live page shows, from the notifier's Variables (written here by hand), and
each incident opened and closed once when failures and recoveries come at the same moment (real
ZooKeeper, the stack's Airflow Variables)."""

from __future__ import annotations

import json
import threading

from logstream.incidents import (RECENT_VARIABLE, close_incident, incident_lock, incident_variable, incidents_view,
                                 open_incident)
from model_variables import ModelVariables


def test_open_incidents_oldest_first_and_the_last_closed_newest_first_each_with_its_dag():
    variables = {
        incident_variable("hadoop_consumer.consume_security_logs.partition_2"): json.dumps(
            {"incident": "hadoop_consumer.consume_security_logs.partition_2", "opened": "2026-12-05T10:00:00+00:00",
             "run_id": "scheduled__1", "error": "HDFS is in safe mode\nTraceback ..."}),
        # written before the record carried its name: the name comes from the Variable's key
        incident_variable("flume_tiers_health.health_check"): json.dumps(
            {"opened": "2026-12-05T09:00:00+00:00", "run_id": "scheduled__0", "error": "agent collector1: down"}),
        incident_variable("exactly_once_check.check_security_logs"): "not json",
        RECENT_VARIABLE: json.dumps([{"incident": f"reconcile.topic_{i}.reconcile", "opened": f"2026-12-0{i}T01:00:00",
                                      "closed": f"2026-12-0{i}T02:00:00", "error": "drift"} for i in range(1, 13)]),
        "logstream_probe_outcome": "fail",  # not an incident
    }

    view = incidents_view(variables, recent_shown=3)

    assert [(i["incident"], i["dag_id"], i["error"]) for i in view["open"]] == [
        ("exactly_once_check.check_security_logs", "exactly_once_check",
         "unreadable incident record (Expecting value: line 1 column 1 (char 0))"),
        ("flume_tiers_health.health_check", "flume_tiers_health", "agent collector1: down"),
        ("hadoop_consumer.consume_security_logs.partition_2", "hadoop_consumer", "HDFS is in safe mode"),
    ]
    assert [(i["incident"], i["dag_id"]) for i in view["recent"]] == [
        ("reconcile.topic_1.reconcile", "reconcile"), ("reconcile.topic_2.reconcile", "reconcile"),
        ("reconcile.topic_3.reconcile", "reconcile")]
    assert incidents_view({}) == {"open": [], "recent": []}


def _at_once(count: int, work) -> list:
    """``work(i)`` in ``count`` threads released together; their results."""
    barrier, results, failures = threading.Barrier(count), [None] * count, []

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            results[i] = work(i)
        except Exception as err:  # noqa: BLE001 - re-raised below, in the test's thread
            failures.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    return results


def test_failures_and_recoveries_of_one_incident_at_the_same_moment_mail_once_each(stack, zookeeper_hosts, unique_name):
    """Eight failures of one incident released together (real ZooKeeper, the stack's Airflow
    Variables), then eight successes: one "opened" mail, one "recovered", one closed entry. Without
    the lock (incident_lock yielding at once) all eight read "not open" and mail."""
    records, name, mails = ModelVariables(), f"{unique_name}.check", []
    records.delete(incident_variable(name))

    def fail(i: int):
        with incident_lock(zookeeper_hosts, name, warn=mails.append) as session:
            assert session is not None
            return open_incident(records, name, run_id=f"run_{i}", error=f"failure {i}", now=f"2026-01-01T00:00:0{i}",
                                 mail=lambda: mails.append(f"opened by {i}"))

    def recover(i: int):
        with incident_lock(zookeeper_hosts, name, warn=mails.append) as session:
            return close_incident(records, name, run_id=f"ok_{i}", now="2026-01-01T01:00:00", session=session,
                                  mail=lambda opened: mails.append(f"recovered by {i}: {opened['run_id']}"))

    try:
        opened = [record for record in _at_once(8, fail) if record is not None]
        assert len(opened) == 1 and mails == [f"opened by {opened[0]['run_id'][4:]}"]
        assert json.loads(records.get(incident_variable(name))) == opened[0]

        closed = [entry for entry in _at_once(8, recover) if entry is not None]
        assert len(closed) == 1 and mails[1:] == [f"recovered by {closed[0]['closed_in'][3:]}: {opened[0]['run_id']}"]
        assert records.get(incident_variable(name)) is None
        recent = json.loads(records.get(RECENT_VARIABLE))
        assert [entry for entry in recent if entry["incident"] == name] == closed
    finally:
        records.delete(incident_variable(name))


def test_incidents_closing_at_the_same_moment_all_reach_the_closed_list(stack, zookeeper_hosts, unique_name):
    """Six incidents recovering together: each is put first in the list of closed ones under that
    list's lock, so none overwrites another's (the list is read, then written)."""
    records, names = ModelVariables(), [f"{unique_name}.check_{i}" for i in range(6)]
    for name in names:
        with incident_lock(zookeeper_hosts, name, warn=print):
            open_incident(records, name, run_id="run", error="down", now="2026-01-01T00:00:00", mail=lambda: None)

    def recover(i: int):
        with incident_lock(zookeeper_hosts, names[i], warn=print) as session:
            return close_incident(records, names[i], run_id="ok", now="2026-01-01T01:00:00", session=session,
                                  mail=lambda opened: None)

    assert all(_at_once(6, recover))
    recent = json.loads(records.get(RECENT_VARIABLE))
    assert sorted(entry["incident"] for entry in recent if entry["incident"].startswith(unique_name)) == names


def test_without_zookeeper_an_incident_is_still_decided_and_says_so(stack, unique_name):
    """ZooKeeper unreachable (a port nothing listens on): the decision is made from the Variables
    alone, one mail for two failures in a row, and the warning names the unreachable ensemble."""
    records, name, mails, warnings = ModelVariables(), f"{unique_name}.check", [], []
    try:
        for run in range(2):
            with incident_lock("127.0.0.1:9", name, warn=warnings.append) as session:
                assert session is None
                open_incident(records, name, run_id=f"run_{run}", error="down", now="2026-01-01T00:00:00",
                              mail=lambda: mails.append("opened"))
        assert mails == ["opened"]
        assert len(warnings) == 2 and "127.0.0.1:9 unreachable" in warnings[0]
    finally:
        records.delete(incident_variable(name))
