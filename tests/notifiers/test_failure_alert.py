"""A failing task sends its alert e-mail to a real SMTP server (the stack's aiosmtpd)."""

from __future__ import annotations

import mailbox
import time
from pathlib import Path

from dag_runs import run_dag
from notifiers.failure_alert import alert_recipients

FAILING_DAG = Path(__file__).with_name("failing_dag.py")


def test_failed_task_sends_alert_mail(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org, soc@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())

    run = run_dag(FAILING_DAG, "logstream_failure_alert_probe")
    assert run.state == "failed"

    deadline = time.monotonic() + 30
    while not (new := set(maildir.keys()) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    messages = [maildir[key] for key in new]
    assert len(messages) == 1
    alert = messages[0]
    assert alert["Subject"].startswith("[logstream] logstream_failure_alert_probe.explode failed")
    assert sorted(a.strip() for a in alert["To"].split(",")) == ["oncall@example.org", "soc@example.org"]
    body = alert.get_payload(0).get_payload(decode=True).decode() if alert.is_multipart() else alert.get_payload()
    assert "Kafka is on fire" in body


def test_recipients_come_from_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "a@x.org,,b@x.org ")
    assert alert_recipients() == ["a@x.org", "b@x.org"]
