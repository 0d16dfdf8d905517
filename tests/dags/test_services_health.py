"""services_health on the stack's own services: the Kafka broker and Spark's Thrift server (Hive)
SIGKILLed; where the hosts supervise, the task names Kafka down and starts nothing; where Airflow
does (the stack's ``local_stack`` connection), the next run starts both again and fails naming each
(one incident e-mail each), the run after it passes (one recovery e-mail each) and the one after
that sends nothing. A service stopped on purpose (``stack down``) is named down and left stopped.
PostgreSQL, Airflow's own database here, SIGKILLed: the stack's keeper starts it again, and the next
run names the restart once."""

from __future__ import annotations

import json
import mailbox
import re
import time
from datetime import datetime

import psycopg2
import pytest
from airflow.exceptions import AirflowException
from airflow.models.variable import Variable
from dag_runs import DAGS, run_dag
from mail_messages import body_of, new_messages, subject_starts
from online_stats import wait_for
from stack_processes import kill_9

from logstream.incidents import incident_variable
from operators.service_health import ServiceHealthOperator, start_time_variable

KILLED = ("kafka", "hive")


def incident(service: str) -> str:
    return f"services_health.{service}"


def mails(maildir: mailbox.Maildir, before: set[str], kind: str, service: str, *, timeout: float = 60) -> list:
    return new_messages(maildir, before, timeout=timeout,
                        where=subject_starts(f"[logstream] {kind}: {incident(service)} "))


@pytest.mark.disruptive
def test_killed_services_come_back_by_the_next_run_with_one_incident_and_one_recovery_each(stack, monkeypatch,
                                                                                            recovery):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    services = {name: stack.service(name) for name in KILLED}
    for name in KILLED:
        Variable.delete(incident_variable(incident(name)))  # none open from an earlier session
    assert all(service.health().ok for service in services.values())
    killed = {name: kill_9(service.process) for name, service in services.items()}
    try:
        with monkeypatch.context() as hosts:
            hosts.setenv("AIRFLOW_CONN_LOCAL_STACK",
                         json.dumps({"conn_type": "generic", "extra": {"supervisor": "hosts"}}))
            with pytest.raises(AirflowException, match=r"^kafka not answering through 'kafka_default': "):
                ServiceHealthOperator(task_id="kafka", service="kafka").execute({})
        assert not services["kafka"].is_running(), "nothing started where the hosts supervise"

        before = set(maildir.keys())
        failed = run_dag(DAGS / "services_health.py", "services_health")
        assert failed.state == "failed"
        assert {ti.task_id: ti.state for ti in failed.get_task_instances()} == {
            "zookeeper": "success", "kafka": "failed", "hdfs": "success", "hive": "failed", "postgres": "success"}
        for name, service in services.items():
            assert service.process.pid() not in (None, killed[name]) and service.health().ok, name
            [opened] = mails(maildir, before, "incident", name)
            found = re.search(rf"{name} down \('{name}' crashed\): started again, healthy after (\d+)s", body_of(opened))
            assert found, body_of(opened)
            recovery(f"services_health started {name} again, healthy {found.group(1)} s after the run found it crashed")

        before = set(maildir.keys())
        assert run_dag(DAGS / "services_health.py", "services_health").state == "success"
        for name in KILLED:
            assert len(mails(maildir, before, "recovered", name)) == 1, name
            assert Variable.get(incident_variable(incident(name)), default_var=None) is None

        before = set(maildir.keys())
        assert run_dag(DAGS / "services_health.py", "services_health").state == "success"
        assert [mails(maildir, before, kind, name, timeout=5) for kind in ("incident", "recovered")
                for name in KILLED] == [[]] * 4

        # stopped on purpose: named down, not started
        services["hive"].stop()
        with pytest.raises(AirflowException, match=r"^hive not answering through 'hiveserver2_default': .*; its "
                                                   r"local process is stopped \(`stack up hive` starts it\)$"):
            ServiceHealthOperator(task_id="hive", service="hive").execute({})
        assert not services["hive"].is_running()
    finally:
        stack.up()  # the session's services, whatever failed above
        for name in KILLED:
            Variable.delete(incident_variable(incident(name)))


@pytest.mark.disruptive
def test_a_crashed_postgres_is_started_again_by_the_keeper_and_its_next_check_names_the_restart_once(
        stack, monkeypatch, recovery):
    """No task runs while Airflow's database is down, so no task can start it: the keeper does (and
    whatever of Airflow died with it). The outage shows afterwards as a later start time: the next
    run fails the postgres task naming it (one incident e-mail), the one after closes it (one
    recovery e-mail). A restart by ``stack up`` is told apart: no e-mail."""
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    postgres, keeper = stack.service("postgres"), stack.service("keeper")
    assert keeper.is_running(), "the premise: stack up started the keeper"
    Variable.delete(incident_variable(incident("postgres")))
    # as a first check would have left it: the server's start time now
    with psycopg2.connect(postgres.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_postmaster_start_time()")
        first_start = cur.fetchone()[0].isoformat()
    conn.close()
    Variable.set(start_time_variable("postgres"), first_start)
    keeper_log = keeper.process.log_file.read_text()
    try:
        killed = kill_9(postgres.process)
        gone = time.monotonic()
        wait_for(lambda: postgres.process.pid() not in (None, killed) and postgres.health().ok, 120,
                 "PostgreSQL started again by the keeper")
        recovery(f"the keeper started PostgreSQL again, answering {time.monotonic() - gone:.0f}s after its SIGKILL")
        wait_for(lambda: re.search(r"postgres found crashed at \d\d:\d\d:\d\d UTC: started again, postgres healthy "
                                   r"after", keeper.process.log_file.read_text()[len(keeper_log):]), 60, "the keeper saying so")
        stack.service("airflow").wait_healthy()  # whatever of Airflow died with its database is back

        before = set(maildir.keys())
        failed = run_dag(DAGS / "services_health.py", "services_health")
        assert {ti.task_id: ti.state for ti in failed.get_task_instances()} == {
            "zookeeper": "success", "kafka": "success", "hdfs": "success", "hive": "success", "postgres": "failed"}
        [opened] = mails(maildir, before, "incident", "postgres")
        assert re.search(r"postgres restarted: running since \S+ \S+ UTC, at the last check since \S+ \S+ UTC",
                         body_of(opened)), body_of(opened)
        assert Variable.get(start_time_variable("postgres")) > first_start

        before = set(maildir.keys())
        assert run_dag(DAGS / "services_health.py", "services_health").state == "success"
        assert len(mails(maildir, before, "recovered", "postgres")) == 1
        assert mails(maildir, before, "incident", "postgres", timeout=5) == []

        # a restart by `stack down` and `stack up` is no outage: the next check says nothing
        stack.stop([postgres])
        stack.up()
        stack.service("airflow").wait_healthy()
        before = set(maildir.keys())
        assert run_dag(DAGS / "services_health.py", "services_health").state == "success"
        assert mails(maildir, before, "incident", "postgres", timeout=5) == []
        assert datetime.fromisoformat(Variable.get(start_time_variable("postgres"))) == postgres.started_at()
    finally:
        stack.up()
        Variable.delete(incident_variable(incident("postgres")))
