"""A report writer in a child process, for the paused-writer tests: it takes the report lock of
DATABASE and inserts 0, 1, 2, ... into TABLE, one statement at a time, through the bounded Hive hook
guarded by the lock and recording each statement under it (as ``ReportHoursOperator`` wires them),
printing each value once inserted. With ENDLESS_AFTER, after that many values it sends an INSERT
that never ends by itself (about 10^14 rows to sum), printing ``sending the endless insert`` first.

    python paused_report_writer.py ZOOKEEPER DATABASE TABLE SESSION_SECONDS [ENDLESS_AFTER]

Exits 3 printing ``ReportLockLost`` when the guard stops it, 4 printing ``HiveStatementCancelled``
when the server cancelled its statement; stops by itself after 2,000 values.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from kazoo.client import KazooClient

from hooks.hiveserver2 import BoundedHiveServer2Hook, HiveStatementCancelled
from logstream.hive.report_lock import ReportLockLost, report_lock

ENDLESS_ROWS = "range(0, 100000000000000, 1, 2)"


def write_under_lock(zookeeper_hosts: str, database: str, session_seconds: str,
                     write: Callable[[BoundedHiveServer2Hook], None]) -> int:
    """``write(hive)`` holding DATABASE's report lock, the hook wired to the lock as
    ``ReportHoursOperator`` wires it, printing ``holding`` first; the exit code: 0 when done, 3
    printing ``ReportLockLost``, 4 printing ``HiveStatementCancelled``."""
    zookeeper = KazooClient(hosts=zookeeper_hosts, timeout=float(session_seconds))
    zookeeper.start(timeout=30)
    hive = BoundedHiveServer2Hook()
    try:
        with report_lock(zookeeper, database, wait=120, end_statement=hive.end_statement) as held:
            hive.guard = held.check
            hive.on_submit = held.record_statement
            print("holding", flush=True)
            write(hive)
    except ReportLockLost as lost:
        print(f"ReportLockLost: {lost}", flush=True)
        return 3
    except HiveStatementCancelled as cancelled:
        print(f"HiveStatementCancelled: {cancelled}", flush=True)
        return 4
    return 0


def main(zookeeper_hosts: str, database: str, table: str, session_seconds: str, endless_after: str = "-1") -> int:
    def insert(hive: BoundedHiveServer2Hook) -> None:
        for value in range(2_000):
            if value == int(endless_after):
                print("sending the endless insert", flush=True)
                hive.run(f"INSERT INTO {table} SELECT CAST(sum(id % 7) AS INT) FROM {ENDLESS_ROWS}")
            hive.run(f"INSERT INTO {table} VALUES ({value})")
            print(f"inserted {value}", flush=True)

    return write_under_lock(zookeeper_hosts, database, session_seconds, insert)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
