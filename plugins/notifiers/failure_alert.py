"""The alert every logstream task sends when it fails: an e-mail through the smtp provider.

Recipients come from Airflow's configuration, ``[logstream] alert_emails`` (a comma-separated
list; environment variable ``AIRFLOW__LOGSTREAM__ALERT_EMAILS``), the SMTP server from the
``smtp_default`` connection.
"""

from __future__ import annotations

from airflow.configuration import conf
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

SUBJECT = "[logstream] {{ ti.dag_id }}.{{ ti.task_id }} failed ({{ ti.run_id }}, try {{ ti.try_number }})"
# a run triggered by hand of a DAG without a schedule has no data interval (Airflow 3 leaves
# data_interval_start out of its context, and a template naming it fails: the mail was never sent)
BODY = """<p>Task <b>{{ ti.dag_id }}.{{ ti.task_id }}</b> failed in run {{ ti.run_id }}
{% if dag_run.data_interval_start %}(data interval {{ dag_run.data_interval_start }} to {{ dag_run.data_interval_end }}), {% endif %}try {{ ti.try_number }}.</p>
<p>Error: <pre>{{ exception }}</pre></p>
<p>Log: {{ ti.log_url }}</p>"""


def alert_recipients() -> list[str]:
    configured = conf.get("logstream", "alert_emails", fallback="ops@localhost")
    return [address.strip() for address in configured.split(",") if address.strip()]


def failure_alert() -> SmtpNotifier:
    return SmtpNotifier(to=alert_recipients(), subject=SUBJECT, html_content=BODY, smtp_conn_id="smtp_default")
