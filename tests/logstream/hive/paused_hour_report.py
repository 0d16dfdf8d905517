"""A report writer in a child process, for the paused-report rounds: it takes the report lock of
DATABASE and reports hour KEY of TOPIC (the hive_reports HQL, ``logstream.hive.reporting``) through
the bounded Hive hook wired to the lock as ``ReportHoursOperator`` wires it, printing ``holding``
once it holds the lock and ``reported`` once every statement is done.

    python paused_hour_report.py ZOOKEEPER DATABASE HDFS_ROOT TOPIC KEY RUN_ID SESSION_SECONDS

Exits 0 when reported, 3 printing ``ReportLockLost`` when its lock is gone, 4 printing
``HiveStatementCancelled`` when the server cancelled its statement (the next holder ended it).
"""

from __future__ import annotations

import sys
from functools import partial

from hooks.hiveserver2 import BoundedHiveServer2Hook
from hooks.webhdfs import BoundedWebHDFSHook
from logstream.hive.reporting import ReportParams, report_hours
from paused_report_writer import write_under_lock  # beside this script (its folder is on sys.path)


def main(zookeeper_hosts: str, database: str, hdfs_root: str, topic: str, key: str, run_id: str,
         session_seconds: str) -> int:
    client = BoundedWebHDFSHook().get_conn()

    def report(hive: BoundedHiveServer2Hook) -> None:
        report_hours(partial(hive.run, split_statements=True), hive.get_records, client, topic=topic, keys=[key],
                     params=ReportParams(database=database, hdfs_root=hdfs_root), run_id=run_id)
        print("reported", flush=True)

    return write_under_lock(zookeeper_hosts, database, session_seconds, report)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
