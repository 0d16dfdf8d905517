"""Event-time panes of one partition: on time, late within the allowed lateness, expired after it,
bad records per reason; a counter resumed from a stored watermark classifies as an uninterrupted one."""

from __future__ import annotations

from collections import Counter

import pytest

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
