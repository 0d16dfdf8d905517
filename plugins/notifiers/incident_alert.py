"""Alerts operators can live with: one e-mail when an incident opens, none while it stays open (a
check that fails every hour, every retry), and one when it recovers.

An incident is named (``{{ dag_id }}.{{ task_id }}`` by default, templated: a topic's task group or a
partition's map index make it one per check, topic and partition) and is open while the Airflow
Variable ``logstream_incident__<name>`` exists: the failure callback creates it and mails, the
success callback deletes it, mails the recovery and puts it at the head of ``logstream_incidents_recent``
(the last 50 closed, with when they opened and closed): both are in the UI under Admin > Variables,
and the live page lists them (``logstream/incidents.py``). Same recipients and SMTP connection as the
failure alert (``[logstream] alert_emails``, ``smtp_default``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseNotifier, Variable

from logstream.incidents import RECENT_KEPT, RECENT_VARIABLE, incident_variable
from notifiers.failure_alert import alert_recipients

OPENED, RECOVERED = "opened", "recovered"


class IncidentAlert(BaseNotifier):
    """The callback of one side of an incident: ``OPENED`` on failure, ``RECOVERED`` on success.

    :param incident: the incident's name (templated)
    :param event: ``"opened"`` (use as ``on_failure_callback``) or ``"recovered"`` (``on_success_callback``)
    """

    template_fields = ("incident",)

    def __init__(self, *, incident: str = "{{ ti.dag_id }}.{{ ti.task_id }}", event: str) -> None:
        super().__init__()
        if event not in (OPENED, RECOVERED):
            raise ValueError(f"event must be {OPENED!r} or {RECOVERED!r}, not {event!r}")
        self.incident = incident
        self.event = event

    def notify(self, context) -> None:
        key = incident_variable(self.incident)
        state = Variable.get(key, default=None)
        ti = context["ti"]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if self.event == OPENED:
            if state is not None:
                self.log.info("incident %s is still open (since %s): no new e-mail", self.incident,
                              json.loads(state).get("opened"))
                return
            error = str(context.get("exception") or "failed")[:2000]
            Variable.set(key, json.dumps({"incident": self.incident, "opened": now, "run_id": ti.run_id,
                                          "error": error[:500]}))
            subject = f"[logstream] incident: {self.incident} failed ({ti.run_id})"
            body = (f"<p><b>{self.incident}</b> failed in run {ti.run_id} at {now}.</p><p><pre>{error}</pre></p>"
                    f"<p>Log: {ti.log_url}</p><p>No further e-mail until it succeeds again.</p>")
        else:
            if state is None:
                return
            Variable.delete(key)
            opened = json.loads(state)
            recent = json.loads(Variable.get(RECENT_VARIABLE, default="[]"))
            recent.insert(0, {"incident": self.incident, "opened": opened.get("opened"), "closed": now,
                              "opened_in": opened.get("run_id"), "closed_in": ti.run_id, "error": opened.get("error")})
            Variable.set(RECENT_VARIABLE, json.dumps(recent[:RECENT_KEPT]))
            subject = f"[logstream] recovered: {self.incident} ({ti.run_id})"
            body = (f"<p><b>{self.incident}</b> succeeded again in run {ti.run_id} at {now}; the incident opened "
                    f"at {opened.get('opened')} in run {opened.get('run_id')} is closed.</p>"
                    f"<p>It had failed with: <pre>{opened.get('error')}</pre></p>")
        SmtpNotifier(to=alert_recipients(), subject=subject, html_content=body, smtp_conn_id="smtp_default").notify(context)
        self.log.info("incident %s %s: e-mail sent", self.incident, self.event)


def incident_callbacks(incident: str = "{{ ti.dag_id }}.{{ ti.task_id }}") -> dict:
    """Task arguments (for ``default_args``) that alert per incident instead of per failure."""
    return {
        "on_failure_callback": [IncidentAlert(incident=incident, event=OPENED)],
        "on_success_callback": [IncidentAlert(incident=incident, event=RECOVERED)],
    }
