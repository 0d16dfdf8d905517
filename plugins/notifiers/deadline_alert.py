"""Deadline Alerts (Airflow 3): an e-mail when a DAG run is not done by its deadline, sent once per
run by the triggerer (never per retry), through the smtp provider's notifier. Same recipients and
SMTP connection as the failure alert (``[logstream] alert_emails``, ``smtp_default``).

The deadline counts from when the run was queued, not from its logical date: a backfill of last
month's hours is not late the moment it starts.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from notifiers.failure_alert import alert_recipients

SUBJECT = "[logstream] deadline missed: {{ dag_run.dag_id }} {{ dag_run.dag_run_id }} not done by {{ deadline.deadline_time }}"
BODY = """<p>The run <b>{{ dag_run.dag_run_id }}</b> of <b>{{ dag_run.dag_id }}</b> (data interval
{{ dag_run.data_interval_start }} to {{ dag_run.data_interval_end }}) was not done by its deadline,
{{ deadline.deadline_time }}: {what}.</p><p>Its state then: {{ dag_run.state }}. The run goes on; see it in the Airflow UI.</p>"""


def deadline_alert(*, within: timedelta, what: str,
                   reference=DeadlineReference.DAGRUN_QUEUED_AT) -> DeadlineAlert:
    """Alert when a run is not done ``within`` after ``reference``; ``what`` says what is late."""
    return DeadlineAlert(
        reference=reference,
        interval=within,
        callback=AsyncCallback(SmtpNotifier, kwargs={
            "to": alert_recipients(),
            "subject": SUBJECT,
            "html_content": BODY.replace("{what}", what),
            "smtp_conn_id": "smtp_default",
        }),
    )
