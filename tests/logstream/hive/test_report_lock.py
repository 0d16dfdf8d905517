"""The Hive reports' write lock on the stack's ZooKeeper: one writer per database, freed with its holder's session."""

from __future__ import annotations

import pytest

from logstream.hive.report_lock import ReportLockTimeout, lock_path, report_lock


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
