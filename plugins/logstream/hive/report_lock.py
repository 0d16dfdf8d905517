"""One report writer per Hive database at a time, whoever runs it.

The hive_reports DAG runs its report task one at a time (``max_active_tis_per_dag=1``), but only
its own scheduler knows that: a second scheduler, ``airflow tasks test``, ``dag.test()`` or a
retried task whose first try still runs can write the same database at the same time. Two writers
of one Spark table lose rows: a fully static ``INSERT OVERWRITE`` stages its output in the table's
own ``_temporary`` folder, which the first job to commit deletes, and one job's "delete the
partition" step can follow the other's commit (the partition ends empty). Two writers of one hour
would also both add a ``report_runs`` row. So a writer first takes this lock: kazoo's lock recipe,
an ephemeral sequential znode under ``/logstream/hive_reports/<database>``; a killed holder's node
goes with its ZooKeeper session, so the lock frees itself once that session expires.

A holder paused past its session (SIGSTOP, a long GC, a cut link) has lost the lock when it wakes,
and another writer may hold it: :meth:`HeldReportLock.check` (a round trip to ZooKeeper for the
holder's own node) fails it before each statement it would send (``BoundedHiveServer2Hook.guard``).
A statement already running on the server while its client was paused is not stopped by this (see
``DESIGN.md``, known limits).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, LockTimeout
from kazoo.recipe.lock import Lock

LOCK_ROOT = "/logstream/hive_reports"


class ReportLockTimeout(RuntimeError):
    """Another writer held the database's report lock for longer than this one would wait."""


class ReportLockLost(RuntimeError):
    """This writer's report lock is gone (its ZooKeeper session ended): it must not write any more."""


class HeldReportLock:
    """The lock as its holder sees it inside the block."""

    def __init__(self, zookeeper: KazooClient, lock: Lock, database: str, me: str) -> None:
        self.zookeeper, self.lock, self.database, self.me = zookeeper, lock, database, me

    def check(self) -> None:
        """ReportLockLost unless this writer still holds the lock, asked of ZooKeeper now."""
        node = f"{self.lock.path}/{self.lock.node}"
        try:
            held = (self.lock.is_acquired and self.zookeeper.state == KazooState.CONNECTED
                    and self.zookeeper.exists(node) is not None)
        except KazooException as error:  # a session that expired while this process was paused
            raise ReportLockLost(f"the report lock of {self.database} is lost ({error!r}); {self.me} stops "
                                 "writing") from error
        if not held:
            raise ReportLockLost(f"the report lock of {self.database} is lost (ZooKeeper {self.zookeeper.state}); "
                                 f"{self.me} stops writing")


def lock_path(database: str) -> str:
    return f"{LOCK_ROOT}/{database.lower()}"  # Hive's names are case-insensitive


@contextmanager
def report_lock(zookeeper: KazooClient, database: str, *, wait: float, writer: str = "",
                progress: Callable[[str], None] = lambda message: None) -> Iterator[HeldReportLock]:
    """Hold ``database``'s report lock for the block, waiting up to ``wait`` seconds for it.

    ``writer`` (a task instance, say) is shown to the writers that wait, beside this host and process.
    """
    me = f"{socket.gethostname()}:{os.getpid()} {writer}".strip()
    lock = zookeeper.Lock(lock_path(database), identifier=me)
    others = [holder for holder in lock.contenders() if holder != me]
    if others:
        progress(f"waiting up to {wait:g}s for the report lock of {database}, held or asked for by {', '.join(others)}")
    try:
        lock.acquire(timeout=wait)
    except LockTimeout:
        holders = [holder for holder in lock.contenders() if holder != me]
        lock.cancel()
        raise ReportLockTimeout(f"the report lock of {database} stayed with {', '.join(holders) or 'another writer'} "
                                f"for {wait:g}s (this writer: {me})") from None
    progress(f"holding the report lock of {database} ({me})")
    try:
        yield HeldReportLock(zookeeper, lock, database, me)
    finally:
        lock.release()
