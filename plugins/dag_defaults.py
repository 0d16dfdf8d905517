"""Default arguments every logstream DAG starts from: retries, a bound on each try, and the failure alert."""

from __future__ import annotations

from datetime import timedelta

from airflow.configuration import conf

from notifiers.failure_alert import failure_alert

# No task of the pipeline needs half an hour; a try that does is stuck (a hung WebHDFS or Kafka
# call, a lost Spark job) and must fail and alert rather than hold its DAG's max_active_runs.
DEFAULT_TASK_TIMEOUT = timedelta(minutes=30)


def task_timeout() -> timedelta:
    """The bound on each task try: ``[logstream] task_timeout_seconds`` (``AIRFLOW__LOGSTREAM__TASK_TIMEOUT_SECONDS``)."""
    seconds = conf.getint("logstream", "task_timeout_seconds", fallback=int(DEFAULT_TASK_TIMEOUT.total_seconds()))
    return timedelta(seconds=seconds)


def default_args(**overrides) -> dict:
    args = {
        "owner": "logstream",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": task_timeout(),
        "on_failure_callback": [failure_alert()],
    }
    args.update(overrides)
    return args
