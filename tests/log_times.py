"""StartTimes for test entries, taken from the clock the code under test compares them with.

Kafka stamps a record with its send time, and the HadoopConsumer quarantines an entry whose StartTime
is more than the pipeline's age bound (720 h) before, or its lead bound (48 h) after, that timestamp;
the hour announcer and the report sensor read the wall clock too. An entry pinned to a fixed date
turns into ``implausible_start_time`` a month later, so every test whose entries reach Kafka or meet
the wall clock takes its times from here. Fixed dates stay only where no code compares them with a
clock (parsers, layouts, an explicit ``now=``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

HOUR = 3600
DAY = 24 * HOUR


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


def next_utc_midnight(*, at_least: int = HOUR, now: float | None = None) -> int:
    """The first UTC midnight at least ``at_least`` seconds after now (1 to 25 hours ahead by default)."""
    return (_now(now) + at_least) // DAY * DAY + DAY


def previous_utc_midnight(*, at_least: int = 2 * HOUR, now: float | None = None) -> int:
    """The last UTC midnight at least ``at_least`` seconds before now (2 to 26 hours ago by default)."""
    return (_now(now) - at_least) // DAY * DAY


def hour_start_ago(hours: int, *, now: float | None = None) -> int:
    """The start of the UTC hour ``hours`` hours before the current one (a pane start too)."""
    return (_now(now) // HOUR - hours) * HOUR


def hour_name(epoch: int) -> str:
    """``YYYY-MM-DDTHH`` of an epoch second, UTC (the pipeline's hour key)."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H")


def hour_folder(epoch: int) -> str:
    """``dt=YYYY-MM-DD/hour=HH`` of an epoch second, UTC (where HDFS files the hour)."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("dt=%Y-%m-%d/hour=%H")
