"""Which hours of a topic to announce to the Hive reports after a round of batches or a replay.

An hour is announced once, when it becomes complete (``logstream.log_hours.completeness``); an hour that
was announced and then receives late records (or quarantined ones, or a replay's) is announced
again, as a restatement. What changed is read from HDFS itself: each hour folder's modification
time against the one seen last time. The state lives beside the offsets in HDFS::

    <root>/_offsets/<topic>/hours.json   {"pending": [...], "announced": [...], "seen": {hour: mtime},
                                          "unconfirmed": {"id": ..., "hours": [...], "at": ISO time}}

The state is saved before the announcement goes out (an asset event, sent by Airflow once the task
returns), so a task that dies in between would lose the hours. Each announcement therefore carries
an id and is kept as ``unconfirmed``; the next call asks (``emitted``) whether an event with that id
went out, and announces the hours again if it did not. An hour announced twice is reported twice,
which the reports allow (they replace an hour's rows); an hour never announced is never reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from logstream.hadoop_consumer.hdfs_files import exists, read_replaced, replace_file
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.hdfs_layout import quarantine_dir, topic_dir
from logstream.log_hours.completeness import hour_is_complete, read_offsets
from logstream.log_hours.hours import hour_key

# hours older than this are neither looked at nor remembered
ANNOUNCED_RETENTION = timedelta(days=60)


@dataclass(frozen=True)
class Announcement:
    complete: list[str]
    restated: list[str]
    pending: list[str]
    # the hours of an earlier announcement that never went out
    carried: list[str] = ()

    @property
    def hours(self) -> list[str]:
        return sorted(set(self.complete) | set(self.restated) | set(self.carried))


def hour_folders(client, base: str, *, since: str) -> dict[str, int]:
    """Hour key -> modification time (ms) of each hour folder under ``base`` whose day is ``since`` or later.

    HDFS moves a folder's modification time whenever a file is renamed into it, so a folder newer
    than last time has new records: one listing per day folder, whatever the number of files.
    """
    if not exists(client, base):
        return {}
    found = {}
    for day, _ in client.list(base, status=True):
        if not day.startswith("dt=") or day[3:] < since:
            continue
        for hour, status in client.list(f"{base}/{day}", status=True):
            if hour.startswith("hour="):
                found[f"{day[3:]}T{hour[5:]}"] = status["modificationTime"]
    return found


class HourAnnouncer:
    """The announcements of one topic.

    :param client: an ``hdfs`` library client.
    :param root: the HDFS root of the layout.
    :param topic: the Kafka topic.
    :param partitions: the topic's partition count (a partition without offset.dat holds hours back).
    """

    def __init__(self, client, root: str, topic: str, partitions: int) -> None:
        self.client = client
        self.root = root
        self.topic = topic
        self.partitions = partitions
        self.state_path = f"{root}/_offsets/{topic}/hours.json"

    def _state(self) -> tuple[set[str], set[str], dict[str, int], dict | None]:
        stored = read_replaced(self.client, self.state_path)
        if stored is None:
            return set(), set(), {}, None
        state = json.loads(stored[1])
        return set(state["pending"]), set(state["announced"]), state.get("seen", {}), state.get("unconfirmed")

    def touched_hours(self, seen: dict[str, int], *, since: str) -> dict[str, int]:
        """The hours whose entry or quarantine folder changed since ``seen``, with their newest change."""
        touched: dict[str, int] = {}
        for base in (topic_dir(self.root, self.topic), quarantine_dir(self.root, self.topic)):
            for key, modified in hour_folders(self.client, base, since=since).items():
                if modified > seen.get(key, -1):
                    touched[key] = max(modified, touched.get(key, -1))
        return touched

    def announce(self, *, now: datetime, lateness: timedelta, announcement_id: str | None = None,
                 emitted: Callable[[str, str], bool] | None = None) -> Announcement:
        """Find what was landed since last time, in HDFS itself (whichever task, batch or replay
        landed it, and whether its siblings failed), and return the hours to announce now.

        :param now: the wall clock's time (an hour is complete ``lateness`` after its end at the latest).
        :param lateness: how long after its end an hour is complete even if a partition is quiet.
        :param announcement_id: the id the announcement goes out with; kept until confirmed.
        :param emitted: ``emitted(id, since)``: whether an announcement with that id went out (since
            the ISO time it was made); without it, an unconfirmed announcement is made again.
        """
        pending, announced, seen, unconfirmed = self._state()
        carried = []
        if unconfirmed is not None and not (emitted is not None and emitted(unconfirmed["id"], unconfirmed["at"])):
            carried = unconfirmed["hours"]
        horizon = hour_key(now - ANNOUNCED_RETENTION)
        touched = self.touched_hours(seen, since=horizon[:10])
        restated = touched.keys() & announced
        pending |= touched.keys() - announced
        offsets = read_offsets(OffsetStore(self.client, self.root), self.topic, self.partitions)
        complete = {key for key in pending if hour_is_complete(key, offsets, partitions=self.partitions, now=now,
                                                               lateness=lateness)}
        pending -= complete
        announced = {key for key in announced | complete if key >= horizon}
        seen = {key: modified for key, modified in {**seen, **touched}.items() if key >= horizon}
        announcement = Announcement(sorted(complete), sorted(restated), sorted(pending), sorted(carried))
        state = {"pending": sorted(pending), "announced": sorted(announced), "seen": seen}
        if announcement_id is not None and announcement.hours:
            state["unconfirmed"] = {"id": announcement_id, "hours": announcement.hours, "at": now.isoformat()}
        replace_file(self.client, self.state_path, json.dumps(state).encode())
        return announcement

