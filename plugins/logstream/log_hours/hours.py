"""Hours, the unit of the offline reports, named by keys ``YYYY-MM-DDTHH`` (UTC).

Keys sort in time order as strings, travel through XCom and asset events as they are, and map
one-to-one to the HDFS folders ``dt=YYYY-MM-DD/hour=HH`` and the Hive partitions ``(dt, hour)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone

HOUR = timedelta(hours=1)
KEY_FORMAT = "%Y-%m-%dT%H"


def hour_key(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(KEY_FORMAT)


def parse_hour_key(key: str) -> datetime:
    """The hour's start; raises ValueError for anything that is not a key."""
    if len(key) != 13:
        raise ValueError(f"{key!r} is not an hour key (YYYY-MM-DDTHH)")
    return datetime.strptime(key, KEY_FORMAT).replace(tzinfo=timezone.utc)


def dt_and_hour(key: str) -> tuple[str, str]:
    """The partition values of an hour: ``("2026-01-01", "05")``."""
    start = parse_hour_key(key)
    return start.strftime("%Y-%m-%d"), start.strftime("%H")


def shift(key: str, hours: int) -> str:
    return hour_key(parse_hour_key(key) + hours * HOUR)


def hours_in_interval(start: datetime, end: datetime) -> list[str]:
    """The hours that overlap the data interval [start, end)."""
    moment = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    keys = []
    while moment < end:
        keys.append(hour_key(moment))
        moment += HOUR
    return keys


def hours_from_events(extras: Iterable[Mapping], topic: str) -> list[str]:
    """The hours named by asset events of ``topic`` (``extra = {"topic": ..., "hours": [...]}``)."""
    keys = set()
    for extra in extras:
        if extra.get("topic", topic) != topic:
            continue
        for key in extra.get("hours", []):
            parse_hour_key(key)
            keys.add(key)
    return sorted(keys)


def hours_clause(topic: str, keys: Iterable[str]) -> str:
    """A WHERE clause selecting these hours of a topic in any table partitioned by (topic, dt, hour)."""
    pairs = " OR ".join("(dt = '{}' AND hour = '{}')".format(*dt_and_hour(key)) for key in sorted(set(keys)))
    return f"topic = '{topic}' AND ({pairs or 'FALSE'})"
