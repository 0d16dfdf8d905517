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

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseNotifier, Variable

from hooks.zookeeper import ZooKeeperHook
from logstream.incidents import IncidentRecords, close_incident, incident_lock, incident_variable, open_incident
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


def _zookeeper_hosts(conn_id: str, log: logging.Logger, incident: str) -> str | None:
    try:
        return ZooKeeperHook(conn_id).hosts()
    except Exception as err:  # noqa: BLE001 - no connection: the incident is still decided, without a lock
        log.warning("incident %s: no ZooKeeper connection %r (%s)", incident, conn_id, err)
        return None


def _send(context, subject: str, body: str) -> None:
    SmtpNotifier(to=alert_recipients(), subject=subject, html_content=body, smtp_conn_id="smtp_default").notify(context)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_with_mail(incident: str, context, *, error: str, subject: str, body: str, log: logging.Logger,
                   extra: Mapping[str, Any] | None = None, records: IncidentRecords | None = None,
                   zookeeper_conn_id: str = "zookeeper_default") -> bool:
    """Open ``incident`` with one e-mail (``subject``, ``body``) unless it is open; True if this call
    opened it. ``records`` are the task's Variables unless given (a test outside a task)."""
    with incident_lock(_zookeeper_hosts(zookeeper_conn_id, log, incident), incident, warn=log.warning):
        opened = open_incident(records or TaskVariables(), incident, run_id=context["ti"].run_id, error=error,
                               now=_now(), mail=lambda: _send(context, subject, body), extra=extra)
    if opened is None:
        log.info("incident %s is still open: no new e-mail", incident)
        return False
    log.info("incident %s opened: e-mail sent", incident)
    return True


def close_with_mail(incident: str, context, *, subject: str, body: Callable[[dict], str], log: logging.Logger,
                    when: Callable[[dict], bool] | None = None, records: IncidentRecords | None = None,
                    zookeeper_conn_id: str = "zookeeper_default") -> bool:
    """Close ``incident`` with one e-mail (``body`` given its record) if it is open and ``when`` (given
    its record) agrees; True if this call closed it. Not open at all (most successes): decided without
    the lock, which the decision would only take to find nothing to close."""
    records = records or TaskVariables()
    if records.get(incident_variable(incident)) is None:
        return False
    with incident_lock(_zookeeper_hosts(zookeeper_conn_id, log, incident), incident, warn=log.warning) as session:
        closed = close_incident(records, incident, run_id=context["ti"].run_id, now=_now(),
                                session=session, when=when,
                                mail=lambda opened: _send(context, subject, body(opened)))
    if closed is None:
        return False
    log.info("incident %s recovered: e-mail sent", incident)
    return True


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
        self.incident = self.incident_template = incident
        self.event = event
        self.zookeeper_conn_id = zookeeper_conn_id

    def render_template_fields(self, context, jinja_env=None) -> None:
        # from the template each time: one notifier serves every task of a DAG's default_args, and where
        # they run in one process (dag.test) the first task's rendered name would stick to the next ones
        self.incident = self.incident_template
        super().render_template_fields(context, jinja_env)

    def notify(self, context) -> None:
        ti = context["ti"]
        now = _now()
        if self.event == OPENED:
            error = str(context.get("exception") or "failed")[:2000]
            open_with_mail(self.incident, context, error=error, log=self.log, zookeeper_conn_id=self.zookeeper_conn_id,
                           subject=f"[logstream] incident: {self.incident} failed ({ti.run_id})",
                           body=f"<p><b>{self.incident}</b> failed in run {ti.run_id} at {now}.</p>"
                                f"<p><pre>{error}</pre></p><p>Log: {ti.log_url}</p>"
                                f"<p>No further e-mail until it succeeds again.</p>")
        else:
            close_with_mail(self.incident, context, log=self.log, zookeeper_conn_id=self.zookeeper_conn_id,
                            subject=f"[logstream] recovered: {self.incident} ({ti.run_id})",
                            body=lambda opened: (
                                f"<p><b>{self.incident}</b> succeeded again in run {ti.run_id} at {now}; the incident "
                                f"opened at {opened.get('opened')} in run {opened.get('run_id')} is closed.</p>"
                                f"<p>It had failed with: <pre>{opened.get('error')}</pre></p>"))


def incident_callbacks(incident: str = "{{ ti.dag_id }}.{{ ti.task_id }}") -> dict:
    """Task arguments (for ``default_args``) that alert per incident instead of per failure."""
    return {
        "on_failure_callback": [IncidentAlert(incident=incident, event=OPENED)],
        "on_success_callback": [IncidentAlert(incident=incident, event=RECOVERED)],
    }
