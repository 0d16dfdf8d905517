"""``offset.dat``: one small file per topic-partition in HDFS that says where the HadoopConsumer is.

As in the paper, it holds the topic, the partition id, the leader broker used and the offset, with
``-1`` meaning "from the very beginning". logstream adds the watermark (the largest StartTime landed
from the partition, which tells the Hive reports when an hour is complete) and the update time::

    topic=security_logs
    partition=0
    leader=127.0.0.1:9092
    offset=2783
    watermark=1795839600
    updated=2026-11-28T04:30:00Z
    lines={"web1 1835021-9a0c31f2":[1796400000123,[0,48211]]}

``offset`` is the next offset to read. ``lines`` (when the partition's records carry line ids) holds
the byte ranges of host files taken up to that offset (``logstream.line_ids``): written in the same
file, so the ranges and the offset they cover move together. The file is replaced by write-new, delete-old, rename
(``hdfs_files.replace_file``); a reader that finds only ``offset.dat.new`` (a crash between the
last two steps) uses that, and the next write first finishes that rename.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from hdfs.util import HdfsError

from logstream.hadoop_consumer.hdfs_files import exists, read_replaced, replace_file
from logstream.hdfs_layout import offset_file

FROM_BEGINNING = -1
NO_WATERMARK = -1


class OffsetFileError(ValueError):
    """An offset.dat that cannot be read as one (a wrong edit, a foreign file)."""


@dataclass(frozen=True)
class PartitionOffset:
    topic: str
    partition: int
    leader: str
    offset: int = FROM_BEGINNING
    watermark: int = NO_WATERMARK
    updated: str = ""
    # LineRanges.to_json() of the line ids taken so far; "" when none had one
    lines: str = ""

    def to_text(self) -> str:
        return (
            f"topic={self.topic}\npartition={self.partition}\nleader={self.leader}\n"
            f"offset={self.offset}\nwatermark={self.watermark}\nupdated={self.updated}\n"
            + (f"lines={self.lines}\n" if self.lines else "")
        )

    @classmethod
    def from_text(cls, text: str, *, source: str = "offset.dat") -> PartitionOffset:
        fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        try:
            return cls(
                topic=fields["topic"],
                partition=int(fields["partition"]),
                leader=fields.get("leader", ""),
                offset=int(fields["offset"]),
                watermark=int(fields.get("watermark", NO_WATERMARK)),
                updated=fields.get("updated", ""),
                lines=fields.get("lines", ""),
            )
        except (KeyError, ValueError) as err:
            raise OffsetFileError(f"{source} is not a valid offset file ({err!r}): {text[:200]!r}") from None


class OffsetStore:
    def __init__(self, client, root: str) -> None:
        self.client = client
        self.root = root

    def path(self, topic: str, partition: int) -> str:
        return offset_file(self.root, topic, partition)

    def read(self, topic: str, partition: int) -> PartitionOffset | None:
        stored = read_replaced(self.client, self.path(topic, partition))
        if stored is None:
            return None
        source, text = stored
        found = PartitionOffset.from_text(text.decode(errors="replace"), source=source)
        if (found.topic, found.partition) != (topic, partition):
            raise OffsetFileError(f"{source} belongs to {found.topic}/{found.partition}")
        return found

    def initialize(self, topic: str, partition: int, leader: str) -> PartitionOffset:
        """The paper's DataGenerator step: create offset.dat at -1 unless it exists (idempotent)."""
        existing = self.read(topic, partition)
        if existing is not None:
            return existing
        fresh = PartitionOffset(topic, partition, leader, FROM_BEGINNING, NO_WATERMARK, _now())
        # written aside, then renamed into place, never over: two runs initializing at once (a backfill
        # beside the schedule, consumers starting together) must not replace each other's, and HDFS's
        # rename fails if the file exists; a file created in place is listed empty until its bytes
        # are in, and a reader then found an offset.dat without a topic
        path = self.path(topic, partition)
        staged = f"{path}.init-{uuid.uuid4().hex}"
        self.client.write(staged, data=fresh.to_text().encode(), overwrite=False)
        try:
            self.client.rename(staged, path)
        except HdfsError:
            self.client.delete(staged)
            created = self.read(topic, partition)
            if created is None:
                raise
            return created
        return fresh

    def write(self, record: PartitionOffset) -> None:
        record = replace(record, updated=_now())
        replace_file(self.client, self.path(record.topic, record.partition), record.to_text().encode())

    def list_partitions(self, topic: str) -> list[int]:
        base = f"{self.root}/_offsets/{topic}"
        if not exists(self.client, base):
            return []
        return sorted(int(name) for name in self.client.list(base) if name.isdigit())


def now_text() -> str:
    return _now()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
