"""The alert of hours reported before they were complete: the lateness bound elapsed first.

Same recipients and SMTP connection as the failure alert (``[logstream] alert_emails``,
``smtp_default``); the run does not fail: its reports are the best there is, marked
``completeness = 'lateness_elapsed'`` in ``report_runs``, and late records will restate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from notifiers.failure_alert import alert_recipients

SUBJECT = "[logstream] {topic}: hours {first}..{last} reported incomplete ({{{{ ti.dag_id }}}}, {{{{ ti.run_id }}}})"
BODY = """<p>Hours of <b>{topic}</b> were reported because the lateness bound elapsed, not because
every partition had landed past them: <b>{hours}</b>.</p>
<p>Committed offset and watermark by partition: <pre>{progress}</pre></p>
<p>Is the HadoopConsumer running? Records that land later restate these hours with a new version.</p>"""


def incomplete_hours_alert(*, topic: str, hours: Sequence[str], offsets: Iterable) -> SmtpNotifier:
    progress = "\n".join(f"{offset.partition}: offset {offset.offset}, watermark {offset.watermark}" for offset in offsets)
    return SmtpNotifier(
        to=alert_recipients(),
        subject=SUBJECT.format(topic=topic, first=hours[0], last=hours[-1]),
        html_content=BODY.format(topic=topic, hours=", ".join(hours), progress=progress or "no offset.dat"),
        smtp_conn_id="smtp_default",
    )
