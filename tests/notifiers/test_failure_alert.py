"""A failing task sends its alert e-mail to a real SMTP server (the stack's aiosmtpd)."""

from __future__ import annotations

import mailbox
import time
from pathlib import Path

from dag_runs import run_dag, unpause_for_the_test
from mail_messages import body_of, new_messages, subject_starts
from notifiers.failure_alert import alert_recipients

from logstream.stack.airflow_api import AirflowApi

FAILING_DAG = Path(__file__).with_name("failing_dag.py")
STUCK_DAG = Path(__file__).with_name("stuck_dag.py")


def test_failed_task_sends_alert_mail(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org, soc@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())

    run = run_dag(FAILING_DAG, "logstream_failure_alert_probe")
    assert run.state == "failed"

    messages = new_messages(maildir, before, where=subject_starts("[logstream] logstream_failure_alert_probe."))
    assert len(messages) == 1
    alert = messages[0]
    assert alert["Subject"].startswith("[logstream] logstream_failure_alert_probe.explode failed")
    assert sorted(a.strip() for a in alert["To"].split(",")) == ["oncall@example.org", "soc@example.org"]
    assert "Kafka is on fire" in body_of(alert)


def test_a_task_failing_in_a_run_triggered_by_hand_sends_its_mail_and_the_api_says_why(stack, unique_name, request):
    """Through the stack's own scheduler, not dag.test(): a run an operator triggers of a DAG without a
    schedule has no data interval, and the alert's template once named it (no mail was sent)."""
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())
    airflow = AirflowApi.for_stack(stack.config)
    airflow.wait_for_dag("storm_topology_rebalance")
    unpause_for_the_test(airflow, "storm_topology_rebalance", request)
    topology = f"security_stats_{unique_name}"  # no such topology: Nimbus refuses to rebalance it

    run_id = airflow.trigger("storm_topology_rebalance", {"topic": unique_name})
    assert airflow.wait_for_run("storm_topology_rebalance", run_id, timeout=300) == "failed"

    mails = new_messages(maildir, before, timeout=60,
                         where=subject_starts("[logstream] storm_topology_rebalance.rebalance failed"))
    assert len(mails) == 1
    assert f"{topology} is not alive" in body_of(mails[0]) and "data interval" not in body_of(mails[0])
    summary = "\n".join(airflow.failure_summary("storm_topology_rebalance", run_id))
    assert "task rebalance failed (try 1)" in summary
    assert f"NotAliveException: NotAliveException(msg='{topology} is not alive')" in summary


def test_stuck_task_times_out_and_sends_alert_mail(stack, monkeypatch):
    # the default bound of every task, shortened: the probe's task would otherwise wait forever
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__TASK_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())

    began = time.monotonic()
    run = run_dag(STUCK_DAG, "logstream_stuck_task_probe")
    assert run.state == "failed"
    assert time.monotonic() - began < 120

    messages = new_messages(maildir, before, where=subject_starts("[logstream] logstream_stuck_task_probe."))
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("[logstream] logstream_stuck_task_probe.hang failed")
    assert "Timeout" in body_of(messages[0])


def test_recipients_come_from_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "a@x.org,,b@x.org ")
    assert alert_recipients() == ["a@x.org", "b@x.org"]
