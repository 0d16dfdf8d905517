"""Which hours of a topic to announce to the Hive reports after a round of batches.

An hour is announced once, when it becomes complete (``logstream.log_hours.completeness``); an hour that
was announced and then receives late records is announced again, as a restatement. The state, the
hours with data not yet announced and the hours announced, lives beside the offsets in HDFS::

    <root>/_offsets/<topic>/hours.json   {"pending": [...], "announced": [...]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from logstream.hadoop_consumer.hdfs_files import exists, move_into_place, read_bytes, write_bytes
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.hdfs_layout import parse_batch_file_name
from logstream.log_hours.completeness import hour_is_complete, read_offsets
from logstream.log_hours.hours import hour_key

# announced hours older than this are forgotten (a record that late is a replay's business)
ANNOUNCED_RETENTION = timedelta(days=60)


@dataclass(frozen=True)
class Announcement:
    complete: list[str]
    restated: list[str]
    pending: list[str]

    @property
    def hours(self) -> list[str]:
        return sorted(set(self.complete) | set(self.restated))


def hours_of_files(paths: Iterable[str], topic_folder: str) -> set[str]:
    """The hour keys of landed entry files (``.../dt=YYYY-MM-DD/hour=HH/<name>.log``) under ``topic_folder``."""
    keys = set()
    for path in paths:
        if not path.startswith(f"{topic_folder}/") or not path.endswith(".log"):
            continue
        dt_part, hour_part, name = path[len(topic_folder) + 1:].split("/")
        parse_batch_file_name(name)
        keys.add(f"{dt_part.removeprefix('dt=')}T{hour_part.removeprefix('hour=')}")
    return keys


class HourAnnouncer:
    def __init__(self, client, root: str, topic: str, partitions: int) -> None:
        self.client = client
        self.root = root
        self.topic = topic
        self.partitions = partitions
        self.state_path = f"{root}/_offsets/{topic}/hours.json"

    def _state(self) -> tuple[set[str], set[str]]:
        if not exists(self.client, self.state_path):
            return set(), set()
        state = json.loads(read_bytes(self.client, self.state_path))
        return set(state["pending"]), set(state["announced"])

    def announce(self, landed_files: Iterable[str], *, now: datetime, lateness: timedelta) -> Announcement:
        """Record what the latest batches landed and return the hours to announce now."""
        pending, announced = self._state()
        touched = hours_of_files(landed_files, f"{self.root}/{self.topic}")
        restated = touched & announced
        pending |= touched - announced
        offsets = read_offsets(OffsetStore(self.client, self.root), self.topic, self.partitions)
        complete = {key for key in pending if hour_is_complete(key, offsets, partitions=self.partitions, now=now,
                                                               lateness=lateness)}
        pending -= complete
        announced |= complete
        horizon = hour_key(now - ANNOUNCED_RETENTION)
        announced = {key for key in announced if key >= horizon}
        body = json.dumps({"pending": sorted(pending), "announced": sorted(announced)}).encode()
        write_bytes(self.client, f"{self.state_path}.new", body)
        move_into_place(self.client, f"{self.state_path}.new", self.state_path)
        return Announcement(sorted(complete), sorted(restated), sorted(pending))

