"""The one batch of a topic-partition that is on its way into HDFS, and its recovery.

Each attempt (each lease, by its fencing token) stages its batch in a folder of its own,
``_inflight/<topic>/<partition>/<token>/``, invisible to Hive. The steps, named as in DESIGN.md:
:meth:`InflightBatch.stage` the files, :meth:`~InflightBatch.seal` (write the MANIFEST naming every
file and the offset to commit: the batch now *exists*), :meth:`~InflightBatch.publish` (rename the
files into their final folders), :meth:`~InflightBatch.commit` (move offset.dat),
:meth:`~InflightBatch.clean` (delete the inflight folder). Every step but Stage first checks that
this attempt still holds the partition's lease. :meth:`~InflightBatch.recover` finishes or discards
whatever earlier attempts, whose holders are gone, left behind.
"""

from __future__ import annotations

import json
import posixpath
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

from hdfs.util import HdfsError

from logstream.hadoop_consumer.hdfs_files import delete_tree, exists, publish_file, read_bytes, write_bytes
from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset, now_text
from logstream.hadoop_consumer.partition_lease import PartitionLease
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
    # staged file name in the attempt's inflight folder -> final path
    files: dict[str, str] = field(default_factory=dict)
    # the line ids taken up to next_offset (offset.dat's ``lines``)
    lines: str = ""

    def commit_record(self) -> PartitionOffset:
        return PartitionOffset(self.topic, self.partition, self.leader, self.next_offset, self.watermark,
                               lines=self.lines)


def committed_offset(store: OffsetStore, lease: PartitionLease) -> PartitionOffset | None:
    """The partition's committed offset: ZooKeeper's record or offset.dat, whichever is further (a
    mirror left behind is written again; offset.dat further ahead was set by hand, or before commits
    went through ZooKeeper)."""
    mirror = store.read(lease.topic, lease.partition)
    held = lease.committed()
    if held is None:
        return mirror
    record = PartitionOffset.from_text(held.decode(errors="replace"), source=f"ZooKeeper {lease.offset_node}")
    if mirror is not None and mirror.offset >= record.offset:
        return mirror
    lease.check("mirror the committed offset")
    store.write(record)
    return record


class InflightBatch:
    """The batch of the attempt that holds ``lease``.

    :param client: an ``hdfs`` library client.
    :param store: the partition's offset store.
    :param lease: the partition's lease, held (its token names the attempt's folder).
    """

    def __init__(self, client, store: OffsetStore, lease: PartitionLease) -> None:
        self.client = client
        self.store = store
        self.lease = lease
        self.partition_folder = inflight_dir(store.root, lease.topic, lease.partition)
        self.folder = f"{self.partition_folder}/{lease.token:020d}"

    def recover(self, committed: PartitionOffset | None) -> str:
        """Finish each earlier attempt whose MANIFEST exists but whose offset was not moved; drop the rest.

        Runs under the lease, so every earlier attempt's holder is gone (killed, or expired and fenced off)."""
        if not exists(self.client, self.partition_folder):
            return "clean"
        self.lease.check("recovery")
        outcomes = []
        for attempt in sorted(self.client.list(self.partition_folder)):
            if not attempt.isdigit() or int(attempt) >= self.lease.token:
                continue  # not an attempt, this one's own, or a newer holder's (this one was paused)
            folder = f"{self.partition_folder}/{attempt}"
            manifest_path = f"{folder}/MANIFEST"
            if not exists(self.client, manifest_path):
                outcomes.append(f"discarded the partly written batch of attempt {attempt.lstrip('0') or 0}")
            else:
                manifest = Manifest(**json.loads(read_bytes(self.client, manifest_path)))
                if committed is not None and manifest.next_offset <= committed.offset:
                    outcomes.append(f"batch {manifest.first}-{manifest.last} was already committed")
                elif self._nothing_left(manifest, folder):
                    # its staged files were deleted before any was published: nothing of it is in
                    # HDFS, the offset did not move, so the next batch lands its records once
                    outcomes.append(f"discarded batch {manifest.first}-{manifest.last}: its staged files are gone "
                                    f"and none was published")
                else:
                    self._publish(manifest, folder)
                    self.commit(manifest)
                    committed = manifest.commit_record()
                    outcomes.append(f"finished batch {manifest.first}-{manifest.last}")
            self.lease.check("clean")
            delete_tree(self.client, folder)
        self._remove_partition_folder_if_empty()
        return "; ".join(outcomes) or "removed an empty inflight folder"

    def _nothing_left(self, manifest: Manifest, folder: str) -> bool:
        """Whether none of the batch's files exists, staged or published."""
        return not any(exists(self.client, path) for staged, final in manifest.files.items()
                       for path in (posixpath.join(folder, staged), final))

    def _remove_partition_folder_if_empty(self) -> None:
        try:
            self.client.delete(self.partition_folder, recursive=False)
        except HdfsError:  # another attempt's folder is in it (or it is gone already)
            pass

    def stage(self, name: str, data: bytes) -> None:
        """Write (or overwrite) one staged file of the batch."""
        write_bytes(self.client, f"{self.folder}/{name}", data)

    def seal(self, manifest: Manifest) -> None:
        """Write the MANIFEST: from here on the batch will be completed, whatever happens."""
        self.lease.check("seal")
        write_bytes(self.client, f"{self.folder}/MANIFEST.new", json.dumps(asdict(manifest)).encode())
        self.client.rename(f"{self.folder}/MANIFEST.new", f"{self.folder}/MANIFEST")

    def publish(self, manifest: Manifest) -> None:
        self._publish(manifest, self.folder)

    def _publish(self, manifest: Manifest, folder: str) -> None:
        """Rename every staged file to its final path, a few at a time (WebHDFS calls wait on round
        trips more than on bandwidth). Safe to repeat: a file already moved is left alone."""
        self.lease.check("publish")
        folders = {posixpath.dirname(target) for target in manifest.files.values()}
        with ThreadPoolExecutor(max_workers=HDFS_THREADS) as pool:
            list(pool.map(self.client.makedirs, sorted(folders)))
            list(pool.map(lambda item: publish_file(self.client, posixpath.join(folder, item[0]), item[1]),
                          manifest.files.items()))

    def commit(self, manifest: Manifest) -> None:
        """Move the committed offset past the batch."""
        self.commit_offset(manifest.commit_record())

    def commit_offset(self, record: PartitionOffset) -> None:
        """Commit ``record``: in ZooKeeper, conditional on this attempt's lease (PartitionLease.commit),
        then into offset.dat, its mirror. A holder paused between the two leaves the mirror behind (or,
        waking late, puts it back): readers take the larger of the two (:func:`committed_offset`)."""
        self.lease.check("commit")
        record = replace(record, updated=now_text())
        self.lease.commit(record.to_text().encode())
        self.store.write(record)

    def clean(self) -> None:
        """Delete this attempt's inflight folder, and the partition's if nothing else is in it. Only
        its own: a holder paused right after its check must not delete a newer holder's batch."""
        self.lease.check("clean")
        delete_tree(self.client, self.folder)
        self._remove_partition_folder_if_empty()

    def complete(self, manifest: Manifest) -> None:
        """Seal's successors: Publish, Commit, Clean."""
        self.publish(manifest)
        self.commit(manifest)
        self.clean()


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
        # staged name -> (the rows list written and how many rows it had then, the write)
        self.written: dict[str, tuple[list | None, int, Future]] = {}

    def write(self, name: str, rows: list[tuple[int, bytes]]) -> None:
        """Write ``rows`` (offset, line or lines) as the staged file ``name``, in the background."""
        self._write(name, b"\n".join([line for _, line in rows]) + b"\n", rows, len(rows))

    def write_data(self, name: str, data: bytes) -> None:
        """Write ``data`` as the staged file ``name``, in the background (thread-safe for distinct names)."""
        self._write(name, data, None, -1)

    def _write(self, name: str, data: bytes, rows: list | None, count: int) -> None:
        earlier = self.written.get(name)
        if earlier is not None:  # never two writes of one file at once: the older could land last
            earlier[2].result()
        self.written[name] = (rows, count, self.pool.submit(self.inflight.stage, name, data))

    def finish(self, files: dict[str, list[tuple[int, bytes]]]) -> None:
        """Make the staged files hold exactly ``files`` (staged name -> rows) and wait for them.

        A file is written again unless it was written from the same rows list, as long as it is now
        (a list only grows: an hour's entries that came late). Call it once nothing else writes: after
        the split-fetch helper's result (its reader thread writes files too)."""
        for name, rows in files.items():
            written = self.written.get(name)
            if written is None or written[0] is not rows or written[1] != len(rows):
                self.write(name, rows)
        for *_, write in self.written.values():
            write.result()

    def __enter__(self) -> "Stager":
        return self

    def __exit__(self, *exc_info) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
