"""The health check's judgement: down, inactive, missing workers, lag past the threshold."""

from __future__ import annotations

from logstream.storm.health import Progress, judge, partition_lag
from logstream.storm.nimbus import TopologyHealth


def _health(status: str = "ACTIVE", workers: int = 1) -> TopologyHealth:
    return TopologyHealth(id="s-1-1", name="s", status=status, uptime_secs=60, workers=workers, emitted=10,
                          acked=10, failed=0, complete_latency_ms=5.0, components={}, conf={})


def test_lag_counts_from_the_stored_offset_or_the_log_start():
    assert partition_lag({0: 100, 1: 50, 2: 7}, {0: 60, 1: 50}, {2: 5}) == {0: 40, 1: 0, 2: 2}


def test_a_healthy_topology_has_no_problems():
    report = judge(name="s", health=_health(), expected_workers=1, lag={0: 10, 1: 0}, max_lag_records=100)
    assert (report.problems, report.total_lag) == ([], 10)


def test_each_problem_is_named():
    assert judge(name="s", health=None, expected_workers=1, lag={}, max_lag_records=1).problems == [
        "topology s is not running on Nimbus"]
    report = judge(name="s", health=_health("INACTIVE", 0), expected_workers=2, lag={0: 5, 1: 2_000_000},
                   max_lag_records=1000)
    assert report.problems == [
        "topology s is INACTIVE, not ACTIVE",
        "topology s has 0 of its 2 workers up",
        "topology s lags more than 1,000 records behind Kafka (partition 1: 2,000,000)",
    ]


def test_records_lost_to_retention_are_named_with_their_offsets():
    report = judge(name="s", health=_health(), expected_workers=1, lag={0: 0}, max_lag_records=100,
                   retention_losses=[(2, 100, 1_600)])
    assert report.problems == ["topology s lost 1,500 records of partition 2 (offsets [100, 1600)) to Kafka's "
                               "retention before counting them"]


def test_frozen_and_stalled_statistics_are_named():
    progress = {0: Progress(records=900, expired=600), 1: Progress(records=100, expired=0, oldest_waiting_seconds=1_260)}
    report = judge(name="s", health=_health(), expected_workers=1, lag={0: 0, 1: 40}, max_lag_records=100,
                   progress=progress, window_minutes=10, max_expired_share=0.5, stalled_minutes=20)
    assert report.problems == [
        "topology s: the statistics look frozen: 60% of the 1,000 records counted in the last 10 minutes arrived "
        "expired (after their pane's allowed lateness; more than 50%): partition 0: 600 of 900, partition 1: 0 of 100",
        "topology s: partition 1 is stalled: its oldest record not counted has waited 21 minutes in Kafka (40 records wait)"]
    quiet = judge(name="s", health=_health(), expected_workers=1, lag={0: 0, 1: 40}, max_lag_records=100,
                  progress={0: Progress(900, 400), 1: Progress(100, 0, 1_140)}, max_expired_share=0.5, stalled_minutes=20)
    assert quiet.problems == []
