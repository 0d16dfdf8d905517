"""Alerts operators can live with: one e-mail when an incident opens, none while it stays open (a
check that fails every hour, every retry), and one when it recovers.

An incident is named (``{{ dag_id }}.{{ task_id }}`` by default, templated: a topic's task group or a
partition's map index make it one per check, topic and partition) and is open while the Airflow
Variable ``logstream_incident__<name>`` exists: the failure callback creates it and mails, the
success callback deletes it, mails the recovery and puts it at the head of ``logstream_incidents_recent``
(the last 50 closed, with when they opened and closed): both are in the UI under Admin > Variables,
and the live page lists them. Each decision runs under the incident's ZooKeeper lock, so failures of
one incident at the same moment mail once (``logstream/incidents.py``). Same recipients and SMTP connection as the
failure alert (``[logstream] alert_emails``, ``smtp_default``).
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseNotifier, Variable

from hooks.zookeeper import ZooKeeperHook
from logstream.incidents import close_incident, incident_lock, open_incident
from notifiers.failure_alert import alert_recipients

OPENED, RECOVERED = "opened", "recovered"


class TaskVariables:
    """The incidents' records as a callback reaches them: the task SDK's Variables."""

    def get(self, key: str) -> str | None:
        return Variable.get(key, default=None)

    def set(self, key: str, value: str) -> None:
        Variable.set(key, value)

    def delete(self, key: str) -> None:
        Variable.delete(key)


class IncidentAlert(BaseNotifier):
    """The callback of one side of an incident: ``OPENED`` on failure, ``RECOVERED`` on success.

    :param incident: the incident's name (templated)
    :param event: ``"opened"`` (use as ``on_failure_callback``) or ``"recovered"`` (``on_success_callback``)
    :param zookeeper_conn_id: the ZooKeeper whose locks serialize the decisions (``logstream/incidents.py``)
    """

    template_fields = ("incident",)

    def __init__(self, *, incident: str = "{{ ti.dag_id }}.{{ ti.task_id }}", event: str,
                 zookeeper_conn_id: str = "zookeeper_default") -> None:
        super().__init__()
        if event not in (OPENED, RECOVERED):
            raise ValueError(f"event must be {OPENED!r} or {RECOVERED!r}, not {event!r}")
        self.incident = incident
        self.event = event
        self.zookeeper_conn_id = zookeeper_conn_id

    def _zookeeper_hosts(self) -> str | None:
        try:
            return ZooKeeperHook(self.zookeeper_conn_id).hosts()
        except Exception as err:  # noqa: BLE001 - no connection: the incident is still decided, without a lock
            self.log.warning("incident %s: no ZooKeeper connection %r (%s)", self.incident, self.zookeeper_conn_id, err)
            return None

    def notify(self, context) -> None:
        ti = context["ti"]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")

        def send(subject: str, body: str) -> None:
            SmtpNotifier(to=alert_recipients(), subject=subject, html_content=body,
                         smtp_conn_id="smtp_default").notify(context)

        with incident_lock(self._zookeeper_hosts(), self.incident, warn=self.log.warning) as session:
            if self.event == OPENED:
                error = str(context.get("exception") or "failed")[:2000]
                opened = open_incident(
                    TaskVariables(), self.incident, run_id=ti.run_id, error=error, now=now,
                    mail=lambda: send(f"[logstream] incident: {self.incident} failed ({ti.run_id})",
                                      f"<p><b>{self.incident}</b> failed in run {ti.run_id} at {now}.</p>"
                                      f"<p><pre>{error}</pre></p><p>Log: {ti.log_url}</p>"
                                      f"<p>No further e-mail until it succeeds again.</p>"))
                if opened is None:
                    self.log.info("incident %s is still open: no new e-mail", self.incident)
                    return
            else:
                closed = close_incident(
                    TaskVariables(), self.incident, run_id=ti.run_id, now=now, session=session,
                    mail=lambda opened: send(
                        f"[logstream] recovered: {self.incident} ({ti.run_id})",
                        f"<p><b>{self.incident}</b> succeeded again in run {ti.run_id} at {now}; the incident "
                        f"opened at {opened.get('opened')} in run {opened.get('run_id')} is closed.</p>"
                        f"<p>It had failed with: <pre>{opened.get('error')}</pre></p>"))
                if closed is None:
                    return
        self.log.info("incident %s %s: e-mail sent", self.incident, self.event)


def incident_callbacks(incident: str = "{{ ti.dag_id }}.{{ ti.task_id }}") -> dict:
    """Task arguments (for ``default_args``) that alert per incident instead of per failure."""
    return {
        "on_failure_callback": [IncidentAlert(incident=incident, event=OPENED)],
        "on_success_callback": [IncidentAlert(incident=incident, event=RECOVERED)],
    }
