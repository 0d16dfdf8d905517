"""One writer per topic-partition: a ZooKeeper lease whose fencing token HDFS remembers.

A batch first takes the partition's lease: kazoo's lock recipe (an ephemeral, sequential znode
under ``/logstream/hadoop_consumer/<hdfs root>/<topic>/<partition>/``; the lowest live node holds
it). A consumer that does not get it within ``wait`` seconds stands down (:class:`LeaseLost`,
naming the holder) before it touches HDFS. The node's sequence number is the **fencing token**: it only
grows, and the holder writes it to ``_offsets/<topic>/<p>/fence`` in HDFS before anything else.
Before each step that changes what others see (Seal, Publish, Commit, Clean) the holder checks that
its ZooKeeper session still holds the node and that the fence still carries its token; a holder
whose session expired (killed, paused, cut off) fails that check and stops, because its successor
has written a larger token. The node vanishes with its holder's session, so a killed holder's lease
expires after the session timeout (at once when the holder was a process of this machine that is
gone: its node is deleted by the next consumer), and recovery (which runs only under the lease) knows that every
older attempt's folder belongs to a holder that is gone.

The commit itself is conditional where the offset is kept: the committed offset's record lives in
the ZooKeeper node ``<lease folder>-offset``, set in one transaction with a check that this holder's
lease node still exists (:meth:`PartitionLease.commit`); ``offset.dat`` in HDFS is its mirror,
written after it. A holder paused past its session (SIGSTOP, a long GC, cut off from ZooKeeper)
whose lease node is gone cannot commit, however late it wakes: the check between its lease check and
its write, which a pause could fall into, is gone from the commit.
"""

from __future__ import annotations

import os
import socket
import threading

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, LockTimeout, NoNodeError, NodeExistsError
from kazoo.recipe.lock import Lock

from logstream.hadoop_consumer.hdfs_files import read_replaced, replace_file
from logstream.hdfs_layout import offsets_dir

LEASE_ROOT = "/logstream/hadoop_consumer"
NODE_PREFIX = "holder-"


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (a zombie, killed but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class LeaseLost(RuntimeError):
    """This consumer does not (or no longer) hold the partition's lease; it stood down."""


def fence_file(root: str, topic: str, partition: int) -> str:
    return f"{offsets_dir(root, topic, partition)}/fence"


class PartitionLease:
    """The lease of one topic-partition, held for one batch (a context manager).

    :param zookeeper: a started ``KazooClient``.
    :param hdfs_client: an ``hdfs`` library client (for the fence file).
    :param root: the HDFS root of the layout (it also names the lease, so deployments never share one).
    :param wait: how long to wait for another holder to finish (or its session to expire) before standing down.
    """

    def __init__(self, *, zookeeper: KazooClient, hdfs_client, root: str, topic: str, partition: int,
                 wait: float) -> None:
        self.zookeeper = zookeeper
        self.wait = wait
        self.client = hdfs_client
        self.root = root
        self.topic = topic
        self.partition = partition
        self.folder = f"{LEASE_ROOT}/{root.strip('/').replace('/', '|') or '|'}/{topic}/{partition}"
        self.lock: Lock | None = None
        self.node: str | None = None
        self.token = -1
        self.lost = threading.Event()

    @property
    def fence(self) -> str:
        return fence_file(self.root, self.topic, self.partition)

    def __enter__(self) -> PartitionLease:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def _on_state(self, state: str) -> bool:
        if state != KazooState.CONNECTED:  # suspended or lost: another holder may take over any moment
            self.lost.set()
        return self.lost.is_set()  # True removes the listener

    def acquire(self) -> int:
        """Take the lease (waiting up to ``wait`` seconds for a holder to finish or expire) and write
        its token to the fence; :class:`LeaseLost`, naming the holder, if it stays taken."""
        holder = f"{socket.gethostname()}:{os.getpid()}"
        self.lock = self.zookeeper.Lock(self.folder, identifier=holder)
        self.zookeeper.add_listener(self._on_state)
        try:
            self._break_leases_of_dead_local_holders()
            self.lock.acquire(timeout=self.wait)
        except LockTimeout:
            try:
                owners = ", ".join(owner for owner in self.lock.contenders() if owner != holder) or "another consumer"
            except KazooException as err:  # ZooKeeper went away meanwhile
                owners = f"a consumer ZooKeeper could not name ({err!r})"
            self.release()
            raise LeaseLost(f"{self._name()}: standing down after {self.wait:g}s, the partition is being moved "
                            f"by {owners} (this consumer: {holder})") from None
        except KazooException as err:
            self.release()
            raise LeaseLost(f"{self._name()}: ZooKeeper did not give a lease: {err!r}") from err
        self.node = f"{self.folder}/{self.lock.node}"
        self.token = int(self.lock.node[-10:])  # the znode's sequence number: it only grows
        stored = read_replaced(self.client, self.fence)
        if stored is not None and int(stored[1]) > self.token:
            self.release()
            raise LeaseLost(f"{self._name()}: standing down, HDFS's fence holds token {int(stored[1])}, newer than "
                            f"this lease's {self.token}")
        replace_file(self.client, self.fence, str(self.token).encode())
        return self.token

    def _break_leases_of_dead_local_holders(self) -> None:
        """Delete the lease nodes of holders on this machine whose process is gone: a killed process
        writes nothing more, so its successor need not wait for the session to expire."""
        if self.zookeeper.exists(self.folder) is None:
            return
        for child in self.zookeeper.get_children(self.folder):
            try:
                host, _, pid = self.zookeeper.get(f"{self.folder}/{child}")[0].decode(errors="replace").rpartition(":")
                if host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid)):
                    self.zookeeper.delete(f"{self.folder}/{child}")
            except NoNodeError:  # gone meanwhile
                continue

    @property
    def offset_node(self) -> str:
        """Where the committed offset's record is kept (beside the lock's folder, not in it)."""
        return f"{self.folder}-offset"

    def committed(self) -> bytes | None:
        """The committed offset's record as the last commit set it (None: no commit went through ZooKeeper)."""
        try:
            return self.zookeeper.get(self.offset_node)[0]
        except NoNodeError:
            return None

    def commit(self, record: bytes) -> None:
        """Set the committed offset's record in one ZooKeeper transaction with the check that this
        lease's node still exists; :class:`LeaseLost` (nothing written) if it does not."""
        if self.node is None:
            raise LeaseLost(f"{self._name()}: no lease held before commit")
        for _ in range(2):  # the node may be created by another holder between the look and the write
            try:
                transaction = self.zookeeper.transaction()
                transaction.check(self.node, 0)  # the lease node: never changed, gone with its session
                if self.zookeeper.exists(self.offset_node) is None:
                    transaction.create(self.offset_node, record)
                else:
                    transaction.set_data(self.offset_node, record)
                results = transaction.commit()
            except KazooException as err:
                raise LeaseLost(f"{self._name()}: standing down at commit: ZooKeeper did not answer ({err!r})") from err
            failed = [result for result in results if isinstance(result, Exception)]
            if not failed:
                return
            if not any(isinstance(result, NodeExistsError) for result in failed):
                raise LeaseLost(f"{self._name()}: standing down at commit: the lease node is gone (its session "
                                f"expired; a newer consumer may have committed): {failed[0]!r}")
        raise LeaseLost(f"{self._name()}: standing down at commit: the offset node kept changing")

    def check(self, step: str) -> None:
        """Raise :class:`LeaseLost` unless this consumer still holds the lease (call before ``step``)."""
        if self.node is None:
            raise LeaseLost(f"{self._name()}: no lease held before {step}")
        problem = None
        if self.lost.is_set():
            problem = "its ZooKeeper session was suspended or lost"
        else:
            try:
                if self.zookeeper.exists(self.node) is None:
                    problem = "its lease node is gone (the session expired)"
            except KazooException as err:
                problem = f"ZooKeeper did not answer ({err!r})"
        if problem is None:
            stored = read_replaced(self.client, self.fence)
            fenced = int(stored[1]) if stored is not None else -1
            if fenced != self.token:
                problem = f"HDFS's fence holds token {fenced}, not this lease's {self.token}: a newer consumer took over"
        if problem is not None:
            raise LeaseLost(f"{self._name()}: standing down before {step}: {problem}")

    def release(self) -> None:
        self.zookeeper.remove_listener(self._on_state)
        self.node = None
        if self.lock is not None:
            try:
                self.lock.release()
            except KazooException:  # the node went with the session: the lease is free either way
                pass

    def _name(self) -> str:
        return f"{self.topic}[{self.partition}]"
