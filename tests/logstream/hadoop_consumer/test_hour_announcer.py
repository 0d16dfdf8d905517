"""Which hours are announced, read from what HDFS holds, including after a crash while saving the state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from logstream.hadoop_consumer.hour_announcer import HourAnnouncer
from logstream.hdfs_layout import batch_file_name

LATENESS = timedelta(minutes=30)
NOW = datetime(2026, 11, 28, 23, 40, tzinfo=timezone.utc)


def land(client, root: str, topic: str, dt: str, hour: str, first: int, *, quarantine: bool = False) -> None:
    base = f"{root}/_quarantine/{topic}" if quarantine else f"{root}/{topic}"
    name = batch_file_name(topic, 0, first, first + 9, "tsv" if quarantine else "log")
    client.write(f"{base}/dt={dt}/hour={hour}/{name}", data=b"x\n")


def test_an_hour_is_announced_once_then_restated_by_late_or_quarantined_records(hdfs_client, root, unique_name):
    announcer = HourAnnouncer(hdfs_client, root, unique_name, 1)
    land(hdfs_client, root, unique_name, "2026-11-28", "22", 0)
    land(hdfs_client, root, unique_name, "2026-11-28", "23", 10)
    first = announcer.announce(now=NOW, lateness=LATENESS)
    assert (first.complete, first.restated, first.pending) == (["2026-11-28T22"], [], ["2026-11-28T23"])
    nothing_new = announcer.announce(now=NOW, lateness=LATENESS)
    assert (nothing_new.complete, nothing_new.restated) == ([], [])

    land(hdfs_client, root, unique_name, "2026-11-28", "22", 20)
    late = announcer.announce(now=NOW, lateness=LATENESS)
    assert (late.complete, late.restated, late.pending) == ([], ["2026-11-28T22"], ["2026-11-28T23"])
    land(hdfs_client, root, unique_name, "2026-11-28", "22", 30, quarantine=True)
    assert announcer.announce(now=NOW, lateness=LATENESS).restated == ["2026-11-28T22"]


def test_a_crash_between_delete_and_rename_of_the_state_keeps_it(hdfs_client, root, unique_name):
    announcer = HourAnnouncer(hdfs_client, root, unique_name, 1)
    land(hdfs_client, root, unique_name, "2026-11-28", "22", 0)
    land(hdfs_client, root, unique_name, "2026-11-28", "23", 10)
    announcer.announce(now=NOW, lateness=LATENESS)
    # what a kill between deleting hours.json and renaming hours.json.new leaves
    hdfs_client.rename(announcer.state_path, f"{announcer.state_path}.new")

    land(hdfs_client, root, unique_name, "2026-11-28", "22", 20)
    again = announcer.announce(now=NOW, lateness=LATENESS)
    assert (again.complete, again.restated, again.pending) == ([], ["2026-11-28T22"], ["2026-11-28T23"])
    assert hdfs_client.status(f"{announcer.state_path}.new", strict=False) is None


def test_an_announcement_that_never_went_out_is_made_again_until_one_does(hdfs_client, root, unique_name):
    announcer = HourAnnouncer(hdfs_client, root, unique_name, 1)
    land(hdfs_client, root, unique_name, "2026-11-28", "22", 0)
    sent: set[str] = set()

    def emitted(announcement_id: str, since: str) -> bool:
        assert since == NOW.isoformat()
        return announcement_id in sent

    first = announcer.announce(now=NOW, lateness=LATENESS, announcement_id="run-1", emitted=emitted)
    assert first.hours == ["2026-11-28T22"]
    # run-1 died after saving the state, before its event went out: run-2 makes it again
    second = announcer.announce(now=NOW, lateness=LATENESS, announcement_id="run-2", emitted=emitted)
    assert (second.complete, second.carried, second.hours) == ([], ["2026-11-28T22"], ["2026-11-28T22"])
    second_again = announcer.announce(now=NOW, lateness=LATENESS, announcement_id="run-3", emitted=emitted)
    assert second_again.hours == ["2026-11-28T22"]
    sent.add("run-3")
    assert announcer.announce(now=NOW, lateness=LATENESS, announcement_id="run-4", emitted=emitted).hours == []
    # without ids (callers outside Airflow) nothing is kept to confirm
    assert announcer.announce(now=NOW, lateness=LATENESS).hours == []
