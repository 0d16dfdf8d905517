"""A report writer in a child process, for the paused-writer test: it takes the report lock of
DATABASE and inserts 0, 1, 2, ... into TABLE, one statement at a time, through the bounded Hive hook
guarded by the lock (as ``ReportHoursOperator`` wires them), printing each value once inserted.

    python paused_report_writer.py ZOOKEEPER DATABASE TABLE SESSION_SECONDS

Exits 3 printing ``ReportLockLost`` when the guard stops it; stops by itself after 2,000 values.
"""

from __future__ import annotations

import sys

from kazoo.client import KazooClient

from hooks.hiveserver2 import BoundedHiveServer2Hook
from logstream.hive.report_lock import ReportLockLost, report_lock


def main(zookeeper_hosts: str, database: str, table: str, session_seconds: str) -> int:
    zookeeper = KazooClient(hosts=zookeeper_hosts, timeout=float(session_seconds))
    zookeeper.start(timeout=30)
    hive = BoundedHiveServer2Hook()
    try:
        with report_lock(zookeeper, database, wait=60) as held:
            hive.guard = held.check
            print("holding", flush=True)
            for value in range(2_000):
                hive.run(f"INSERT INTO {table} VALUES ({value})")
                print(f"inserted {value}", flush=True)
    except ReportLockLost as lost:
        print(f"ReportLockLost: {lost}", flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
