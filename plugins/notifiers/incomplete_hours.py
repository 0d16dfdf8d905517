"""Hours reported before they were complete (the lateness bound elapsed first), as one incident per
topic: ``<dag_id>.<topic>.incomplete_hours``.

The first run that reports such hours opens it with one e-mail naming them and each partition's
committed offset and watermark; runs reporting more incomplete hours while it is open send nothing
more (a consumer down for a day is one mail, not 24: their task logs name the hours); the first run
whose hours are all complete and later than the ones that opened it closes it with one "recovered"
mail (a backfill of older hours does not). The runs do not fail: their reports are the best there is,
marked ``completeness = 'lateness_elapsed'`` in ``report_runs``, and late records will restate them.
Same recipients and SMTP connection as every alert (``[logstream] alert_emails``, ``smtp_default``);
open and recent incidents show on the live page like the others (``notifiers/incident_alert.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from logstream.incidents import IncidentRecords
from notifiers.incident_alert import close_with_mail, open_with_mail

BODY = """<p>Hours of <b>{topic}</b> were reported because the lateness bound elapsed, not because
every partition had landed past them: <b>{hours}</b> (run {run_id}).</p>
<p>Committed offset and watermark by partition: <pre>{progress}</pre></p>
<p>Is the HadoopConsumer running? Records that land later restate these hours with a new version.
No further e-mail for this topic's incomplete hours until a later hour is complete again.</p>"""
RECOVERED_BODY = """<p>Hours {hours} of <b>{topic}</b> were complete when reported ({how}; run {run_id}): the
incident opened at {opened} for hours {first}..{last} (run {opened_in}) is closed.</p>"""


def incident_name(context, topic: str) -> str:
    return f"{context['ti'].dag_id}.{topic}.incomplete_hours"


def report_incomplete(context, *, topic: str, hours: Sequence[str], offsets: Iterable, log: logging.Logger,
                      records: IncidentRecords | None = None) -> bool:
    """Open the topic's incident for ``hours`` (sorted) reported incomplete, unless it is open; True if opened."""
    run_id = context["ti"].run_id
    progress = "\n".join(f"{offset.partition}: offset {offset.offset}, watermark {offset.watermark}" for offset in offsets)
    return open_with_mail(
        incident_name(context, topic), context, log=log, records=records,
        error=f"hours {hours[0]}..{hours[-1]} reported incomplete: the lateness bound elapsed",
        extra={"first_hour": hours[0], "last_hour": hours[-1]},
        subject=f"[logstream] incident: {topic}: hours {hours[0]}..{hours[-1]} reported incomplete "
                f"({context['ti'].dag_id}, {run_id})",
        body=BODY.format(topic=topic, hours=", ".join(hours), run_id=run_id, progress=progress or "no offset.dat"))


def report_complete(context, *, topic: str, how: Mapping[str, str], log: logging.Logger,
                    records: IncidentRecords | None = None) -> bool:
    """Close the topic's incident if it is open and the run's complete hours (``how``: hour -> how it
    completed) end after the last hour that opened it; True if closed."""
    if not how:
        return False
    run_id = context["ti"].run_id
    last = max(how)
    return close_with_mail(
        incident_name(context, topic), context, log=log, records=records,
        when=lambda opened: last > str(opened.get("last_hour") or ""),
        subject=f"[logstream] recovered: {topic}: hours complete again from {min(how)} "
                f"({context['ti'].dag_id}, {run_id})",
        body=lambda opened: RECOVERED_BODY.format(
            hours=", ".join(sorted(how)), topic=topic, how=", ".join(sorted(set(how.values()))), run_id=run_id,
            opened=opened.get("opened"), first=opened.get("first_hour"), last=opened.get("last_hour"),
            opened_in=opened.get("run_id")))
