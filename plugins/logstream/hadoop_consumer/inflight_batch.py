"""The one batch of a topic-partition that is on its way into HDFS, and its recovery.

A batch's files are first written under ``_inflight/<topic>/<partition>/`` (invisible to Hive), then
a MANIFEST naming every file and the offset to commit is written (the batch now *exists*), then the
files are renamed into their final folders, then offset.dat is moved, then the inflight folder goes.
``recover`` finishes or discards whatever an earlier, killed run left there. See DESIGN.md.
"""

from __future__ import annotations

import json
import posixpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from logstream.hadoop_consumer.hdfs_files import delete_tree, exists, move_into_place, read_bytes, write_bytes
from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.hdfs_layout import inflight_dir

HDFS_THREADS = 4


@dataclass
class Manifest:
    topic: str
    partition: int
    first: int
    last: int
    next_offset: int
    watermark: int
    leader: str
    # staged file name in the inflight folder -> final path
    files: dict[str, str] = field(default_factory=dict)

    def commit_record(self) -> PartitionOffset:
        return PartitionOffset(self.topic, self.partition, self.leader, self.next_offset, self.watermark)


class InflightBatch:
    def __init__(self, client, store: OffsetStore, topic: str, partition: int) -> None:
        self.client = client
        self.store = store
        self.folder = inflight_dir(store.root, topic, partition)
        self.manifest_path = f"{self.folder}/MANIFEST"

    def recover(self, committed: PartitionOffset | None) -> str:
        """Finish a batch whose MANIFEST exists but whose offset was not moved; drop a partial one."""
        if not exists(self.client, self.folder):
            return "clean"
        if not exists(self.client, self.manifest_path):
            delete_tree(self.client, self.folder)
            return "discarded a partly written batch"
        manifest = Manifest(**json.loads(read_bytes(self.client, self.manifest_path)))
        if committed is None or manifest.next_offset > committed.offset:
            self.publish(manifest)
            self.store.write(manifest.commit_record())
            outcome = f"finished batch {manifest.first}-{manifest.last}"
        else:
            outcome = f"batch {manifest.first}-{manifest.last} was already committed"
        delete_tree(self.client, self.folder)
        return outcome

    def stage(self, files: dict[str, bytes]) -> None:
        """Write the batch's files into the inflight folder, a few at a time (WebHDFS calls wait on
        round trips more than on bandwidth; publish renames them in parallel too)."""
        with ThreadPoolExecutor(max_workers=HDFS_THREADS) as pool:
            list(pool.map(lambda item: write_bytes(self.client, f"{self.folder}/{item[0]}", item[1]), files.items()))

    def seal(self, manifest: Manifest) -> None:
        """Write the MANIFEST: from here on the batch will be completed, whatever happens."""
        write_bytes(self.client, f"{self.manifest_path}.new", json.dumps(asdict(manifest)).encode())
        self.client.rename(f"{self.manifest_path}.new", self.manifest_path)

    def publish(self, manifest: Manifest) -> None:
        def move(item: tuple[str, str]) -> None:
            source = posixpath.join(self.folder, item[0])
            if exists(self.client, source):
                move_into_place(self.client, source, item[1])

        with ThreadPoolExecutor(max_workers=HDFS_THREADS) as pool:
            list(pool.map(move, manifest.files.items()))

    def complete(self, manifest: Manifest) -> None:
        self.publish(manifest)
        self.store.write(manifest.commit_record())
        delete_tree(self.client, self.folder)
