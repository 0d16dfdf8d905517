"""Event-time panes of one partition: on time, late within the allowed lateness, expired after it,
bad records per reason; a counter resumed from a stored watermark classifies as an uninterrupted one."""

from __future__ import annotations

from collections import Counter

import pytest

from logstream.log_entry import StartTimeBounds
from logstream.storm.window_counter import WindowCounter

T0 = 1_795_839_600  # a pane boundary (divisible by 60)


@pytest.fixture(params=["lines", "values", "one_by_one"])
def feed(request):
    """Records into a counter the three ways the bolt can: a batch as lines, as raw values, or a record at a time."""

    def _feed(counter: WindowCounter, values: list[bytes], first_offset: int = 0) -> None:
        stamps = [(T0 + 7) * 1000] * len(values)
        if request.param == "lines":
            counter.add_lines(first_offset=first_offset, lines=b"".join(value + b"\n" for value in values),
                              kafka_timestamps_ms=stamps)
        elif request.param == "values":
            counter.add_values(first_offset=first_offset, values=values, kafka_timestamps_ms=stamps)
        else:
            for offset, value in enumerate(values, start=first_offset):
                counter.add_values(first_offset=offset, values=[value], kafka_timestamps_ms=stamps[:1])

    return _feed


def test_on_time_late_and_expired_records(feed):
    counter = WindowCounter(pane_seconds=60, allowed_lateness_seconds=120, watermark=None)
    feed(counter, [
        b"10.0.0.1,5,%d,60" % T0,          # pane T0, on time
        b"10.0.0.2,6,%d,60" % (T0 + 59),    # pane T0, on time
        b"10.0.0.1,5,%d,60" % (T0 + 150),   # pane T0+120: watermark T0+150 closes T0
        b"10.0.0.3,5,%d,60" % (T0 + 10),    # pane T0 closed 90 s ago: late (< 120)
        b"10.0.0.1,5,%d,60" % (T0 + 200),   # pane T0+180, closes T0+120; pane T0 ended 140 s ago
        b"10.0.0.4,7,%d,60" % (T0 + 30),    # pane T0: expired
        b"not an entry",
        b"",
    ])
    deltas = counter.take()
    assert deltas.pane_records == Counter({T0: 3, T0 + 120: 1, T0 + 180: 1})
    assert deltas.pane_late == Counter({T0: 1})
    assert deltas.pane_expired == Counter({T0: 1})
    assert deltas.config_counts == Counter({(T0, 5): 2, (T0, 6): 1, (T0 + 120, 5): 1, (T0 + 180, 5): 1})
    assert deltas.config_late == Counter({(T0, 5): 1})
    assert deltas.host_counts == Counter({(T0, "10.0.0.1"): 1, (T0, "10.0.0.2"): 1, (T0, "10.0.0.3"): 1,
                                          (T0 + 120, "10.0.0.1"): 1, (T0 + 180, "10.0.0.1"): 1})
    assert deltas.host_late == Counter({(T0, "10.0.0.3"): 1})
    assert deltas.bad_records == Counter({(T0, "field_count"): 1, (T0, "empty"): 1})
    assert [(close.pane_start, close.offset) for close in deltas.closes] == [(T0, 2), (T0 + 120, 4)]
    assert deltas.records == 8
    assert counter.watermark == T0 + 200
    assert counter.take().records == 0


def test_resumed_counter_classifies_like_an_uninterrupted_one(feed):
    values = [b"10.0.%d.%d,%d,%d,300" % (i % 3, i % 7, i % 4, T0 + (i * 37) % 600 - (i % 5) * 90)
              for i in range(400)]
    whole = WindowCounter(pane_seconds=60, allowed_lateness_seconds=100, watermark=None)
    feed(whole, values)
    expected = whole.take()

    first = WindowCounter(pane_seconds=60, allowed_lateness_seconds=100, watermark=None)
    feed(first, values[:150])
    part1 = first.take()
    second = WindowCounter(pane_seconds=60, allowed_lateness_seconds=100, watermark=first.watermark)
    feed(second, values[150:], first_offset=150)
    part2 = second.take()

    assert part1.pane_records + part2.pane_records == expected.pane_records
    assert part1.pane_late + part2.pane_late == expected.pane_late
    assert part1.pane_expired + part2.pane_expired == expected.pane_expired
    assert part1.host_counts + part2.host_counts == expected.host_counts
    assert sum(expected.pane_late.values()) > 0 and sum(expected.pane_expired.values()) > 0


def test_entries_beyond_the_plain_ipv4_form_count_under_their_parsed_keys(feed):
    counter = WindowCounter(pane_seconds=60, allowed_lateness_seconds=120, watermark=None)
    feed(counter, [b"fe80::1,7,%d,60" % T0, b"10.0.0.1,007,%d,60" % (T0 + 1), b"10.0.0.1,7,%d,60" % (T0 + 2),
                   b"10.0.0.1,9223372036854775807,%d,60" % (T0 + 3)])
    deltas = counter.take()
    assert deltas.config_counts == Counter({(T0, 7): 3, (T0, 2**63 - 1): 1})
    assert deltas.host_counts == Counter({(T0, "fe80::1"): 1, (T0, "10.0.0.1"): 3})
    assert deltas.pane_records == Counter({T0: 4}) and deltas.records == 4


def test_implausible_start_times_are_bad_records_and_move_no_watermark(feed):
    # the stamps are T0 + 7 s (the feed's): a StartTime more than 2 days after that, or 30 days before
    # it, is implausible; so is one past 9999-12-31, which a pane timestamp could not even hold
    poison = [b"10.0.0.9,1,%d,60" % (T0 + 7 + 2 * 86400 + 1), b"10.0.0.9,1,253402300800,60",
              b"10.0.0.9,1,999999999999999999,60", b"fe80::9,1,%d,60" % (T0 + 10**9),
              b"10.0.0.9,1,%d,60" % (T0 + 7 - 30 * 86400 - 1), b"10.0.0.9,1,0,60"]
    on_time = [b"10.0.0.1,5,%d,60" % (T0 + i) for i in range(0, 120, 10)]
    counter = WindowCounter(pane_seconds=60, allowed_lateness_seconds=120, watermark=None)
    feed(counter, poison[:3] + on_time[:6] + poison[3:] + on_time[6:])
    deltas = counter.take()
    assert deltas.bad_records == Counter({(T0, "implausible_start_time"): 6})
    # had a poison record moved the watermark, the on-time entries would all be expired
    assert deltas.pane_records == Counter({T0: 6, T0 + 60: 6}) and not deltas.pane_expired
    assert counter.watermark == T0 + 110


def test_bounds_are_the_counters_own(feed):
    strict = WindowCounter(pane_seconds=60, allowed_lateness_seconds=120, watermark=None,
                           start_time_bounds=StartTimeBounds(max_age=60, max_lead=0))
    feed(strict, [b"10.0.0.1,5,%d,60" % (T0 - 54), b"10.0.0.1,5,%d,60" % (T0 - 53), b"10.0.0.1,5,%d,60" % (T0 + 7),
                  b"10.0.0.1,5,%d,60" % (T0 + 8)])
    deltas = strict.take()
    assert deltas.bad_records == Counter({(T0, "implausible_start_time"): 2})
    assert deltas.pane_records == Counter({T0 - 60: 1, T0: 1})


def test_records_without_a_usable_timestamp_are_bad_within_the_stores_minutes():
    counter = WindowCounter(pane_seconds=60, allowed_lateness_seconds=120, watermark=None)
    counter.add_values(first_offset=0, values=[b"10.0.0.1,5,%d,60" % T0, b"garbage", b"10.0.0.1,5,%d,60" % T0],
                       kafka_timestamps_ms=[-1, 10**18, 10**18])
    # the store holds minutes from 1970 to 9999-12-31T23:59 (253402300740, computed by hand)
    assert counter.take().bad_records == Counter({(0, "implausible_start_time"): 1, (253402300740, "field_count"): 1,
                                                  (253402300740, "implausible_start_time"): 1})


def test_a_host_an_hour_ahead_moves_the_watermark_no_further_than_the_stamp_plus_the_lead(feed):
    """The stamps are T0 + 7 s: an entry an hour ahead (plausible: inside the 2-day lead) once moved
    the watermark an hour on and every on-time entry after it was expired."""
    ahead = [b"10.0.0.9,1,%d,60" % (T0 + 3600)]
    on_time = [b"10.0.0.1,5,%d,60" % (T0 + i) for i in range(0, 120, 10)]
    bounded = WindowCounter(pane_seconds=60, allowed_lateness_seconds=300, watermark=None, watermark_max_lead=300)
    feed(bounded, on_time[:3] + ahead + on_time[3:])
    deltas = bounded.take()
    assert bounded.watermark == T0 + 7 + 300
    # the on-time entries are counted (the first pane's late), none expired; the host ahead in its own pane
    assert deltas.pane_records == Counter({T0: 6, T0 + 60: 6, T0 + 3600: 1}) and not deltas.pane_expired
