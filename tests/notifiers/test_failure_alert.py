"""A failing task sends its alert e-mail to a real SMTP server (the stack's aiosmtpd)."""

from __future__ import annotations

import mailbox
import time
from pathlib import Path

from dag_runs import run_dag
from mail_messages import body_of, new_messages
from notifiers.failure_alert import alert_recipients

FAILING_DAG = Path(__file__).with_name("failing_dag.py")
STUCK_DAG = Path(__file__).with_name("stuck_dag.py")


def test_failed_task_sends_alert_mail(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org, soc@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())

    run = run_dag(FAILING_DAG, "logstream_failure_alert_probe")
    assert run.state == "failed"

    messages = new_messages(maildir, before)
    assert len(messages) == 1
    alert = messages[0]
    assert alert["Subject"].startswith("[logstream] logstream_failure_alert_probe.explode failed")
    assert sorted(a.strip() for a in alert["To"].split(",")) == ["oncall@example.org", "soc@example.org"]
    assert "Kafka is on fire" in body_of(alert)


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

    messages = new_messages(maildir, before)
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("[logstream] logstream_stuck_task_probe.hang failed")
    assert "Timeout" in body_of(messages[0])


def test_recipients_come_from_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "a@x.org,,b@x.org ")
    assert alert_recipients() == ["a@x.org", "b@x.org"]
