"""services_health on the stack's own services: the Kafka broker and Spark's Thrift server (Hive)
SIGKILLed; where the hosts supervise, the task names Kafka down and starts nothing; where Airflow
does (the stack's ``local_stack`` connection), the next run starts both again and fails naming each
(one incident e-mail each), the run after it passes (one recovery e-mail each) and the one after
that sends nothing. A service stopped on purpose (``stack down``) is named down and left stopped."""

from __future__ import annotations

import json
import mailbox
import re

import pytest
from airflow.exceptions import AirflowException
from airflow.models.variable import Variable
from dag_runs import DAGS, run_dag
from mail_messages import body_of, new_messages, subject_starts
from stack_processes import kill_9

from logstream.incidents import incident_variable
from operators.service_health import ServiceHealthOperator

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
            "zookeeper": "success", "kafka": "failed", "hdfs": "success", "hive": "failed"}
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
