"""The staleness rule of the live page: records waiting in Kafka, and no flush for two flush intervals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from logstream.results.staleness import StalenessJudge, waiting_records

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)  # a moment of the judge's own clock, never compared with the real one


def test_waiting_records_count_from_the_stored_offset_or_the_log_start_never_below_it():
    # partition 0: 100 in Kafka, 60 stored; 1: nothing stored, log from 10 to 30; 2: stored 5 but
    # retention deleted up to 50 (those 5..50 are lost, not waiting); 3: stored past the end seen
    ends, starts = {0: 100, 1: 30, 2: 80, 3: 7}, {0: 0, 1: 10, 2: 50, 3: 0}
    stored = {0: 60, 2: 5, 3: 9}
    assert waiting_records(ends, starts, stored) == 40 + 20 + 30 + 0


def test_the_threshold_is_two_flush_intervals_and_never_under_ten_seconds():
    assert StalenessJudge(flush_every_seconds=30).after_seconds == 60
    assert StalenessJudge(flush_every_seconds=1).after_seconds == 10


def test_a_read_that_does_not_record_starts_no_clock():
    judge = StalenessJudge(flush_every_seconds=5)
    assert judge.judge("t", now=T0, last_update=None, waiting=5, record=False) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=30), last_update=None, waiting=5) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=40), last_update=None, waiting=5, record=False) == {
        "since": None, "waiting": 5}


def test_a_burst_after_a_quiet_hour_is_stale_only_after_two_flush_intervals_without_a_flush():
    judge = StalenessJudge(flush_every_seconds=5)
    quiet_since = T0 - timedelta(hours=1)
    assert judge.judge("t", now=T0, last_update=quiet_since, waiting=0) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=1), last_update=quiet_since, waiting=400) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=10.5), last_update=quiet_since, waiting=900) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=11), last_update=quiet_since, waiting=900) == {
        "since": quiet_since.isoformat(), "waiting": 900}
    # a flush came: the clock starts again, though records still wait
    flushed = T0 + timedelta(seconds=12)
    assert judge.judge("t", now=T0 + timedelta(seconds=13), last_update=flushed, waiting=300) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=22), last_update=flushed, waiting=300) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=23), last_update=flushed, waiting=300)["since"] == flushed.isoformat()
    # nothing waits: not stale, and a later burst starts its own clock
    assert judge.judge("t", now=T0 + timedelta(seconds=24), last_update=flushed, waiting=0) is None
    assert judge.judge("t", now=T0 + timedelta(seconds=25), last_update=flushed, waiting=1) is None
    # never flushed at all, records waiting: stale since ever
    assert judge.judge("u", now=T0, last_update=None, waiting=3) is None
    assert judge.judge("u", now=T0 + timedelta(seconds=10), last_update=None, waiting=3) == {"since": None, "waiting": 3}
