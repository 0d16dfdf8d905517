"""The one batch of a topic-partition that is on its way into HDFS, and its recovery.

A batch's files are first written under ``_inflight/<topic>/<partition>/`` (invisible to Hive), then
a MANIFEST naming every file and the offset to commit is written (the batch now *exists*), then the
files are renamed into their final folders, then offset.dat is moved, then the inflight folder goes.
``recover`` finishes or discards whatever an earlier, killed run left there. See DESIGN.md.
"""

from __future__ import annotations

import json
import posixpath
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from logstream.hadoop_consumer.hdfs_files import delete_tree, exists, publish_file, read_bytes, write_bytes
from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.hdfs_layout import inflight_dir

HDFS_THREADS = 8


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

    def write(self, name: str, data: bytes) -> None:
        """Write (or overwrite) one staged file of the batch."""
        write_bytes(self.client, f"{self.folder}/{name}", data)

    def seal(self, manifest: Manifest) -> None:
        """Write the MANIFEST: from here on the batch will be completed, whatever happens."""
        write_bytes(self.client, f"{self.manifest_path}.new", json.dumps(asdict(manifest)).encode())
        self.client.rename(f"{self.manifest_path}.new", self.manifest_path)

    def publish(self, manifest: Manifest) -> None:
        """Rename every staged file to its final path, a few at a time (WebHDFS calls wait on round
        trips more than on bandwidth). Safe to repeat: a file already moved is left alone."""
        folders = {posixpath.dirname(target) for target in manifest.files.values()}
        with ThreadPoolExecutor(max_workers=HDFS_THREADS) as pool:
            list(pool.map(self.client.makedirs, sorted(folders)))
            list(pool.map(lambda item: publish_file(self.client, posixpath.join(self.folder, item[0]), item[1]),
                          manifest.files.items()))

    def complete(self, manifest: Manifest) -> None:
        self.publish(manifest)
        self.store.write(manifest.commit_record())
        delete_tree(self.client, self.folder)


class Stager:
    """Writes a batch's staged files in the background while the batch is still being fetched.

    The fetch hands over an hour's rows as soon as it has moved past that hour; :meth:`finish`
    then writes whatever is new, or has grown since (records of an hour that came late), and waits
    for every write. Until the MANIFEST is sealed none of this is part of the batch, so a crash
    here only leaves a folder that recovery discards.
    """

    def __init__(self, inflight: InflightBatch, threads: int = HDFS_THREADS) -> None:
        self.inflight = inflight
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stager")
        # staged name -> (rows written, the write)
        self.written: dict[str, tuple[int, Future]] = {}

    def write(self, name: str, rows: list[tuple[int, bytes]]) -> None:
        """Write ``rows`` (offset, line or lines) as the staged file ``name``, in the background."""
        self.write_data(name, b"\n".join([line for _, line in rows]) + b"\n", len(rows))

    def write_data(self, name: str, data: bytes, rows: int = -1) -> None:
        """Write ``data`` as the staged file ``name``, in the background (thread-safe for distinct names)."""
        earlier = self.written.get(name)
        if earlier is not None:  # never two writes of one file at once: the older could land last
            earlier[1].result()
        self.written[name] = (rows, self.pool.submit(self.inflight.write, name, data))

    def finish(self, files: dict[str, list[tuple[int, bytes]]]) -> None:
        """Make the staged files hold exactly ``files`` (staged name -> rows) and wait for them.

        Call it once nothing else writes: after the split-fetch helper's result (its reader thread
        writes files too)."""
        for name, rows in files.items():
            if name not in self.written or self.written[name][0] != len(rows):
                self.write(name, rows)
        for _, write in self.written.values():
            write.result()

    def __enter__(self) -> "Stager":
        return self

    def __exit__(self, *exc_info) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
