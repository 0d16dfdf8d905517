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

The statement it had already sent goes on running on the server during the pause (the pause stops
the client, not Spark's job). So each statement's server handle is recorded in ZooKeeper once sent
(:meth:`HeldReportLock.record_statement`, ``BoundedHiveServer2Hook.on_submit``), in one transaction
that checks the holder's lock node: a writer that lost its lock cannot record, and cancels what it
just sent. The next holder, before its block runs, ends the recorded statement (``end_statement``:
cancel it on the server and wait until the server says it ended), so no two writers' statements
overlap on the server.
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
# the server handle of the statement a database's writer sent last (persistent: it outlives the writer's session)
STATEMENT_ROOT = "/logstream/hive_report_statements"


class ReportLockTimeout(RuntimeError):
    """Another writer held the database's report lock for longer than this one would wait."""


class ReportLockLost(RuntimeError):
    """This writer's report lock is gone (its ZooKeeper session ended): it must not write any more."""


class HeldReportLock:
    """The lock as its holder sees it inside the block."""

    def __init__(self, zookeeper: KazooClient, lock: Lock, database: str, me: str) -> None:
        self.zookeeper, self.lock, self.database, self.me = zookeeper, lock, database, me
        self.node = f"{lock.path}/{lock.node}"
        stat = zookeeper.exists(self.node)
        if stat is None:
            raise ReportLockLost(f"the report lock of {database} is lost before its first statement; {me} stops")
        self.node_version = stat.version

    def record_statement(self, handle: bytes) -> None:
        """Record ``handle`` (a statement just sent) as the database's running statement, in one
        ZooKeeper transaction with a check of this writer's lock node; ReportLockLost if the node is
        gone (the caller then cancels the statement)."""
        transaction = self.zookeeper.transaction()
        transaction.check(self.node, self.node_version)
        transaction.set_data(statement_path(self.database), handle)
        try:
            results = transaction.commit()
        except KazooException as error:
            raise ReportLockLost(f"the report lock of {self.database} is lost ({error!r}); {self.me} cancels the "
                                 "statement it sent") from error
        failed = [result for result in results if isinstance(result, Exception)]
        if failed:
            raise ReportLockLost(f"the report lock of {self.database} is lost ({failed[0]!r}); {self.me} cancels the "
                                 "statement it sent")

    def check(self) -> None:
        """ReportLockLost unless this writer still holds the lock, asked of ZooKeeper now."""
        try:
            held = (self.lock.is_acquired and self.zookeeper.state == KazooState.CONNECTED
                    and self.zookeeper.exists(self.node) is not None)
        except KazooException as error:  # a session that expired while this process was paused
            raise ReportLockLost(f"the report lock of {self.database} is lost ({error!r}); {self.me} stops "
                                 "writing") from error
        if not held:
            raise ReportLockLost(f"the report lock of {self.database} is lost (ZooKeeper {self.zookeeper.state}); "
                                 f"{self.me} stops writing")


def lock_path(database: str) -> str:
    return f"{LOCK_ROOT}/{database.lower()}"  # Hive's names are case-insensitive


def statement_path(database: str) -> str:
    return f"{STATEMENT_ROOT}/{database.lower()}"


@contextmanager
def report_lock(zookeeper: KazooClient, database: str, *, wait: float, writer: str = "",
                end_statement: Callable[[bytes], str] | None = None,
                progress: Callable[[str], None] = lambda message: None) -> Iterator[HeldReportLock]:
    """Hold ``database``'s report lock for the block, waiting up to ``wait`` seconds for it.

    ``writer`` (a task instance, say) is shown to the writers that wait, beside this host and process.
    ``end_statement`` ends a statement on the server by its recorded handle and says how it ended
    (``BoundedHiveServer2Hook.end_statement``): called, once the lock is held, for the statement the
    previous holder recorded, before the block runs. Without it (a caller that sends no statement
    itself) nothing is ended.
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
        held = HeldReportLock(zookeeper, lock, database, me)
        if end_statement is not None:
            zookeeper.ensure_path(statement_path(database))
            previous, _ = zookeeper.get(statement_path(database))
            if previous:
                # a holder that lost the lock (paused, cut off) may have left a statement running on the server
                progress(f"the previous writer's last statement: {end_statement(previous)}")
                held.record_statement(b"")
        yield held
    finally:
        lock.release()
