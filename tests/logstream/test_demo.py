"""Which hours the demo reconciles, and the reconcile runs it asks Airflow for: each run's data interval
is its hour (by Airflow's own hourly timetable), its logical date is no scheduled run's, and it has
passed when the demo asks (a run whose logical date is still to come starts no task until then)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

from logstream.demo import RUN_PAST_HOUR_END, final_demo_hours

HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
LATENESS = 300


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def scheduled_logical_dates(start: datetime, end: datetime) -> set[datetime]:
    """The logical dates of the hourly schedule's runs between ``start`` and ``end``, as Airflow plans them."""
    dates, last = set(), None
    restriction = TimeRestriction(earliest=pendulum.instance(start), latest=pendulum.instance(end), catchup=True)
    while (info := HOURLY.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)) is not None:
        dates.add(info.logical_date)
        last = info.data_interval
    return dates


def test_the_demo_reconciles_an_hour_minutes_after_its_end_with_a_run_that_starts_at_once():
    # the demo of a CI run that started at midnight: logs 22:08 to 00:08, landed and counted through 00:08
    first, through = at("2026-12-07T22:08:00"), at("2026-12-08T00:08:00").timestamp()
    scheduled = scheduled_logical_dates(at("2026-12-07T20:00:00"), at("2026-12-08T03:00:00"))
    for now, expected in ((at("2026-12-08T00:12:47"), [at("2026-12-07T22:00:00"), at("2026-12-07T23:00:00")]),
                          (at("2026-12-08T00:00:30"), [at("2026-12-07T22:00:00")]),
                          (at("2026-12-07T23:00:30"), [])):
        hours = final_demo_hours(first, min(through, now.timestamp()), min(through, now.timestamp()), LATENESS, now=now)
        assert hours == expected, now
        for hour in hours:
            logical_date = hour + timedelta(hours=1) + RUN_PAST_HOUR_END
            assert logical_date <= now
            assert logical_date not in scheduled
            interval = HOURLY.infer_manual_data_interval(run_after=pendulum.instance(logical_date))
            assert interval == DataInterval(pendulum.instance(hour), pendulum.instance(hour + timedelta(hours=1)))


def test_an_hour_not_final_on_one_side_is_left_for_later():
    first, now = at("2026-12-07T22:08:00"), at("2026-12-08T02:00:00")
    # landed through 23:59:59 (the 23:00 hour is not), counted through 01:00
    assert final_demo_hours(first, at("2026-12-07T23:59:59").timestamp(), at("2026-12-08T01:00:00").timestamp(),
                            LATENESS, now=now) == [at("2026-12-07T22:00:00")]
    # counted through 00:04:59: the 23:00 hour is not past its end plus the allowed lateness
    assert final_demo_hours(first, at("2026-12-08T01:00:00").timestamp(), at("2026-12-08T00:04:59").timestamp(),
                            LATENESS, now=now) == [at("2026-12-07T22:00:00")]
    assert final_demo_hours(first, -1, -1, LATENESS, now=now) == []
