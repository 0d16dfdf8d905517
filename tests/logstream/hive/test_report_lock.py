"""The Hive reports' write lock on the stack's ZooKeeper: one writer per database, freed with its holder's session."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

from hooks.hiveserver2 import BoundedHiveServer2Hook
from landed_logs import expected_reports, hours_across_midnight, report_rows
from logstream.hive.reporting import ReportParams, report_hours
from logstream.hive.report_lock import ReportLockTimeout, lock_path, report_lock, statement_path
from online_stats import wait_for
from spark_jobs import running

# rounds of the paused-report test; LOGSTREAM_PAUSED_REPORT_ROUNDS=50 for the soak (about 30 min)
PAUSED_REPORT_ROUNDS = int(os.environ.get("LOGSTREAM_PAUSED_REPORT_ROUNDS", "4"))


def _start_writer(stack, script: str, *args: str) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    """``script`` (a writer beside this file) in a child process; what it prints is collected, line
    by line, into the returned list by the returned thread."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stack.config.repo / "plugins"), os.environ.get("PYTHONPATH", "")])}
    writer = subprocess.Popen([sys.executable, str(Path(__file__).with_name(script)), *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(iter(writer.stdout.readline, "")), daemon=True)
    reader.start()
    return writer, said, reader


def statements_sent_after(said: list[str], moment: float) -> list[str]:
    """The writer's statements (its hook's "Running statement:" log lines) logged after ``moment``."""
    sent = []
    for line in said:
        if "Running statement:" in line[:80]:
            logged = datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()
            if logged > moment:
                sent.append(line)
    return sent


def test_a_second_writer_waits_then_stands_down_naming_the_holder(sessions, unique_name):
    holder, other = sessions(), sessions()
    said: list[str] = []
    with report_lock(holder, unique_name, wait=5, writer="run_a"):
        with pytest.raises(ReportLockTimeout, match=rf"the report lock of {unique_name} stayed with \S+:\d+ run_a for 1s"):
            with report_lock(other, unique_name, wait=1, writer="run_b", progress=said.append):
                pytest.fail("two writers held the lock at once")
    assert said and said[0].startswith(f"waiting up to 1s for the report lock of {unique_name}, held or asked for by ")
    assert said[0].endswith(" run_a")
    # the loser left no node behind, and the holder's went with its release
    assert holder.get_children(lock_path(unique_name)) == []


def test_a_holder_whose_session_ends_frees_the_lock(sessions, unique_name):
    holder, other = sessions(), sessions()
    entered = report_lock(holder, unique_name.upper(), wait=5)  # names are case-insensitive, like Hive's
    entered.__enter__()
    holder.stop()  # as when the holder's process is killed: its ephemeral node goes with the session
    said: list[str] = []
    with report_lock(other, unique_name, wait=30, progress=said.append):
        assert said[-1].startswith(f"holding the report lock of {unique_name}")


def test_a_writer_paused_past_its_session_writes_nothing_when_it_wakes(stack, sessions, zookeeper_hosts, unique_name):
    """A report writer SIGSTOPped past its ZooKeeper session while it inserts, statement after
    statement; a second writer takes the lock and writes; the first is resumed. It must send nothing
    more: each statement is preceded by ``HeldReportLock.check`` (``BoundedHiveServer2Hook.guard``).
    Removal check: with ``check()`` returning at once, the woken writer goes on inserting after the
    second writer's row (the wait for it to stop failed)."""
    table = f"default.{unique_name}"
    hive = BoundedHiveServer2Hook()
    hive.run(f"CREATE TABLE {table} (value INT) STORED AS PARQUET")
    writer, said, reader = _start_writer(stack, "paused_report_writer.py", zookeeper_hosts, unique_name, table, "4")
    try:
        wait_for(lambda: "inserted 2\n" in said, timeout=300, what="the first writer inserting")
        os.kill(writer.pid, signal.SIGSTOP)
        with report_lock(sessions(), unique_name, wait=120, end_statement=hive.end_statement):
            # (free once the paused writer's session expired; its last statement, if still running, ended)
            wait_for(lambda: not running(stack, table), timeout=120, what="the paused writer's last statement ending")
            before = sorted(row[0] for row in hive.get_records(f"SELECT value FROM {table}"))
            hive.run(f"INSERT INTO {table} VALUES (-1)")
        os.kill(writer.pid, signal.SIGCONT)
        assert writer.wait(timeout=120) == 3, "".join(said)
        after = sorted(row[0] for row in hive.get_records(f"SELECT value FROM {table}"))
    finally:
        writer.kill()
        hive.run(f"DROP TABLE IF EXISTS {table}")
    reader.join(timeout=10)
    assert any(line.startswith("ReportLockLost") for line in said), "".join(said)
    assert before and -1 not in before
    assert after == sorted([*before, -1])


def test_the_statement_a_paused_writer_left_running_is_ended_before_the_next_holder_writes(
        stack, sessions, zookeeper_hosts, unique_name):
    """A report writer SIGSTOPped past its ZooKeeper session while its statement runs on the server
    (an INSERT that never ends by itself: the pause stops the client, not Spark's job). The next
    holder of the lock ends that statement before its block runs, so the two writers never run
    statements at once; the woken writer finds its statement cancelled and writes nothing. Whether
    the job runs is read from Spark's REST API. Removal check: without the previous statement ended
    in ``report_lock`` (its ``end_statement`` call), the endless INSERT still runs while the next
    holder writes, and the wait for it to stop fails (checked once)."""
    table = f"default.{unique_name}"
    hive = BoundedHiveServer2Hook()
    hive.run(f"CREATE TABLE {table} (value INT) STORED AS PARQUET")
    writer, said, reader = _start_writer(stack, "paused_report_writer.py", zookeeper_hosts, unique_name, table, "4", "2")
    progress: list[str] = []
    try:
        wait_for(lambda: "sending the endless insert\n" in said and running(stack, f"{table} SELECT"), timeout=300,
                 what="the first writer's endless insert running on Spark")
        os.kill(writer.pid, signal.SIGSTOP)
        with report_lock(sessions(), unique_name, wait=120, end_statement=hive.end_statement,
                         progress=progress.append):
            wait_for(lambda: not running(stack, f"{table} SELECT"), timeout=60,
                     what="the paused writer's endless insert to stop on Spark")
            hive.run(f"INSERT INTO {table} VALUES (-1)")
        os.kill(writer.pid, signal.SIGCONT)
        assert writer.wait(timeout=120) == 4, "".join(said)
        rows = sorted(row[0] for row in hive.get_records(f"SELECT value FROM {table}"))
    finally:
        writer.kill()
        # whatever the outcome, the endless insert does not go on running (its handle is in ZooKeeper)
        left, _ = sessions().get(statement_path(unique_name))
        if left:
            hive.end_statement(left)
        hive.run(f"DROP TABLE IF EXISTS {table}")
    reader.join(timeout=10)
    assert "the previous writer's last statement: ended (CANCELED_STATE)" in progress, progress
    assert any(line.startswith("HiveStatementCancelled") for line in said), "".join(said)
    assert rows == [-1, 0, 1]


def test_rounds_of_a_report_writer_paused_at_random_points_leave_the_hour_reported_once(
        stack, sessions, zookeeper_hosts, landed, database):
    """Round after round, a report writer (the hive_reports HQL for one hour, in a child process
    wired as ``ReportHoursOperator`` is) is SIGSTOPped at a random point of its run, past its
    ZooKeeper session; a second writer takes the lock, the first is resumed at once, and the second
    reports the same hour. After every round the hour's report rows are exactly those computed here
    from the landed entries, in one version, with one ``report_runs`` row: no statement of the woken
    writer ran beside the second's. The woken writer ends by its guard (``ReportLockLost``) or with
    its running statement cancelled by the second (``HiveStatementCancelled``), or it had finished
    before the pause. Rounds: ``LOGSTREAM_PAUSED_REPORT_ROUNDS`` (4 here; 50 by hand). Removal
    check: with ``HeldReportLock.check`` returning at once and no statement ended by the next
    holder, the woken writer goes on beside the second (exit 0 without having reported before the
    pause) and the round fails."""
    [key] = hours_across_midnight(datetime(2026, 3, 2), count=1)
    landed.land_hour(key, count=300, seed=5, hosts=25)
    expected = expected_reports(landed, key, version=1)
    assert all(expected.values()), "the generated data gives every report rows"
    hive = BoundedHiveServer2Hook()
    rng = random.Random(database)
    endings: Counter = Counter()
    for round_number in range(PAUSED_REPORT_ROUNDS):
        writer, said, reader = _start_writer(stack, "paused_hour_report.py", zookeeper_hosts, database, landed.root,
                                             landed.topic, key, f"paused_{round_number}", "4")
        try:
            wait_for(lambda: "holding\n" in said or writer.poll() is not None, timeout=300,
                     what=f"round {round_number}: the first writer holding the lock")
            assert "holding\n" in said, "".join(said)
            pause_at = rng.uniform(0, 6)  # a report of this hour takes about 6-10 s here
            try:
                writer.wait(timeout=pause_at)
                ending = "finished before the pause"
            except subprocess.TimeoutExpired:
                paused_at = time.time()
                os.kill(writer.pid, signal.SIGSTOP)
                reported_before_pause = "reported\n" in said
                with report_lock(sessions(), database, wait=120, end_statement=hive.end_statement) as held:
                    # woken while the second writes: whatever it would still send would run beside its statements
                    os.kill(writer.pid, signal.SIGCONT)
                    hive.guard, hive.on_submit = held.check, held.record_statement
                    report_hours(partial(hive.run, split_statements=True), hive.get_records, landed.client,
                                 topic=landed.topic, keys=[key], params=ReportParams(database=database, hdfs_root=landed.root),
                                 run_id=f"second_{round_number}")
                    hive.guard = hive.on_submit = None
                code = writer.wait(timeout=120)
                reader.join(timeout=10)
                # exit 0: it reported before the pause, or its last statement was sent and done
                # before it, and it was paused before it could say "reported" (seen once in CI)
                assert code in (3, 4) or (code == 0 and (reported_before_pause or not statements_sent_after(
                    said, paused_at))), "".join(said)
                ending = {0: "finished before the pause", 3: "stopped by its guard",
                          4: "its running statement cancelled"}[code]
            assert writer.returncode in (0, 3, 4), "".join(said)
        finally:
            writer.kill()
        endings[ending] += 1
        assert report_rows(hive.get_records, database, key) == expected, f"round {round_number} ({ending})"
        dt, hour = key.split("T")
        runs = hive.get_records(f"SELECT version FROM {database}.report_runs WHERE dt = '{dt}' AND hour = '{hour}'")
        assert runs == [(1,)], f"round {round_number} ({ending}): {runs}"
    print(f"{PAUSED_REPORT_ROUNDS} rounds: {dict(endings)}")
