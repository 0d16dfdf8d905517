"""Default arguments every logstream DAG starts from: retries, and the failure alert."""

from __future__ import annotations

from datetime import timedelta

from notifiers.failure_alert import failure_alert


def default_args(**overrides) -> dict:
    args = {
        "owner": "logstream",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": [failure_alert()],
    }
    args.update(overrides)
    return args
