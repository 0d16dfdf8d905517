"""Alerts per incident, through the stack's real SMTP server: a check that fails three runs in a row
sends one e-mail, and one more when it passes again; passing runs after that send none. The live
page's incident list (the real api-server) shows it open, then closed."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

from airflow.models.variable import Variable
from dag_runs import run_dag
from dashboard_session import DashboardSession
from mail_messages import body_of, new_messages

from logstream.incidents import LOCKS, RECENT_VARIABLE, incident_variable

PROBE_DAG = Path(__file__).with_name("flaky_check_dag.py")
INCIDENT = "logstream_incident_probe.check"


def test_one_mail_when_an_incident_opens_and_one_when_it_recovers(stack, monkeypatch, sessions):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    Variable.delete(incident_variable(INCIDENT))
    zookeeper = sessions()
    lock_node = f"{LOCKS}/{INCIDENT}"
    zookeeper.delete(lock_node, recursive=True)

    def runs(outcome: str, count: int) -> list[str]:
        Variable.set("logstream_probe_outcome", outcome)
        before = set(maildir.keys())
        states = [run_dag(PROBE_DAG, "logstream_incident_probe").state for _ in range(count)]
        assert states == ["failed" if outcome == "fail" else "success"] * count
        return new_messages(maildir, before, timeout=5, where=lambda m: INCIDENT in m["Subject"])

    try:
        opened = runs("fail", 3)
        assert len(opened) == 1 and opened[0]["Subject"].startswith(f"[logstream] incident: {INCIDENT} failed")
        # each decision was made under the incident's ZooKeeper lock (logstream/incidents.py)
        assert zookeeper.exists(lock_node) is not None
        assert "the landed offsets have a gap" in body_of(opened[0])
        assert Variable.get(incident_variable(INCIDENT), default_var=None) is not None
        # the live page lists it, linked to its DAG, with its error, to whoever may see the page
        page = DashboardSession(stack.config)
        assert page.get("/live/api/incidents")[0] == 401
        listed = json.loads(page.get("/live/api/incidents", page.login("operator"))[1])
        [shown] = [incident for incident in listed["open"] if incident["incident"] == INCIDENT]
        assert shown["dag_id"] == "logstream_incident_probe" and shown["run_id"]
        assert "the landed offsets have a gap" in shown["error"]

        recovered = runs("pass", 2)
        assert len(recovered) == 1 and recovered[0]["Subject"].startswith(f"[logstream] recovered: {INCIDENT}")
        assert "the landed offsets have a gap" in body_of(recovered[0])
        assert Variable.get(incident_variable(INCIDENT), default_var=None) is None
        # the closed incident is listed first among the recent ones (Admin > Variables)
        [latest, *_] = json.loads(Variable.get(RECENT_VARIABLE))
        assert latest["incident"] == INCIDENT and latest["opened"] <= latest["closed"]
        assert "the landed offsets have a gap" in latest["error"]
        listed = json.loads(page.get("/live/api/incidents", page.login("operator"))[1])
        assert INCIDENT not in {incident["incident"] for incident in listed["open"]}
        assert listed["recent"][0]["incident"] == INCIDENT
        assert (listed["recent"][0]["opened"], listed["recent"][0]["closed"]) == (latest["opened"], latest["closed"])

        assert runs("pass", 1) == []
    finally:
        Variable.delete("logstream_probe_outcome")
        Variable.delete(incident_variable(INCIDENT))
