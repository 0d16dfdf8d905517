"""A run not done by its deadline: the stack's scheduler notices, its triggerer sends one e-mail
through the real SMTP server while the run still runs."""

from __future__ import annotations

import mailbox
import threading
from pathlib import Path

from airflow.models.variable import Variable
from dag_runs import run_dag
from mail_messages import body_of, new_messages, subject_starts

LATE_DAG = Path(__file__).with_name("late_dag.py")
RELEASE = "logstream_late_probe_release"


def deadline_mails(maildir: mailbox.Maildir, before: set[str], timeout: float) -> list:
    return new_messages(maildir, before, timeout=timeout,
                        where=subject_starts("[logstream] deadline missed: logstream_deadline_probe"))


def test_a_run_past_its_deadline_sends_one_mail_while_it_runs(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())
    Variable.set(RELEASE, "no")
    seen: list = []

    def release_once_alerted() -> None:
        # the run's task waits for this Variable: the alert must come while it still runs
        try:
            seen.extend(deadline_mails(maildir, before, timeout=180))
        finally:
            Variable.set(RELEASE, "yes")

    watcher = threading.Thread(target=release_once_alerted)
    watcher.start()
    try:
        run = run_dag(LATE_DAG, "logstream_deadline_probe", keep_deadline=True)  # dag.test() must run in the main thread
    finally:
        Variable.set(RELEASE, "yes")
        watcher.join(timeout=200)
        Variable.delete(RELEASE)
    assert len(seen) == 1, "no deadline alert while the run ran"
    assert "the probe's hourly report" in body_of(seen[0])
    assert run.state == "failed"  # as the probe's task ends (see late_dag.py)
    # one alert per run: none more after it
    assert len(deadline_mails(maildir, before, timeout=0)) == 1
