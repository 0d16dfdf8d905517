"""The log entry's one documented interpretation, and the consumer's fast paths agreeing with it."""

from __future__ import annotations

import random

import pytest

from logstream.log_entry import (RECORD_SEPARATOR, InvalidEntry, StartTimeBounds, entry_start_time, parse_entry,
                                 plain_entry_fields, plain_entry_start_times, valid_start_time)
from logstream.log_generator import MALFORMED, LogGenerator


def test_the_papers_example():
    entry = parse_entry(b"192.168.11.34,1019491,157892,300")
    assert (entry.host, entry.config_id, entry.start_time, entry.interval) == ("192.168.11.34", 1019491, 157892, 300)
    assert entry.event_time.isoformat() == "1970-01-02T19:51:32+00:00"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty"),
    (b"x" * 5000, "oversized"),
    (b"\xff\xfe", "not_text"),
    (b"10.0.0.1,1,2,3\n", "control_characters"),
    (b"10.0.0.1,1,2,3\x1e", "control_characters"),
    (b"10.0.0.1,1,2,3 \x0b", "control_characters"),
    (b"10.0.0.1,1,2," + b"0" * 5000 + b"1", "oversized"),
    (b"10.0.0.1,1,2", "field_count"),
    (b"10.0.0.256,1,2,3", "bad_host"),
    (b"010.0.0.1,1,2,3", "bad_host"),
    (b"10.0.0.1,-1,2,3", "bad_config_id"),
    (b"10.0.0.1,1,1e9,3", "bad_start_time"),
    (b"10.0.0.1,1,2,0", "bad_interval"),
    # what Hive would read differently from the parser
    (b" 10.0.0.1 , 5 , 1795839600 , 60", "padded_field"),
    (b"10.0.0.1,5,1795839600, 60", "padded_field"),
    (b"2001:0db8:0000::0001,5,1795839600,60", "non_canonical_host"),
    (b"2001:DB8::1,5,1795839600,60", "non_canonical_host"),
    (b"10.0.0.1,5,1795839600,2147483648", "bad_interval"),
    (b"10.0.0.1,5,1795839600,999999999999", "bad_interval"),
])
def test_malformed_entries_are_refused_with_a_reason(raw, reason):
    for parse in (parse_entry, entry_start_time):
        with pytest.raises(InvalidEntry) as refused:
            parse(raw)
        assert refused.value.reason == reason


def test_ipv6_is_an_entry_too_in_its_canonical_form():
    assert parse_entry(b"2001:db8::1,5,1795839600,60").host == "2001:db8::1"
    assert parse_entry(b"fe80::1,5,1795839600,2147483647").interval == 2**31 - 1



def _start_time_or_reason(raw: bytes):
    try:
        return parse_entry(raw).start_time
    except InvalidEntry as invalid:
        return invalid.reason


def test_fast_paths_agree_with_the_parser_on_random_input():
    chance = random.Random(3)
    cases = [record.value for record in LogGenerator(bad_ratio=0.2).records(5000, start=0, end=2 * 10**9)]
    cases += list(MALFORMED)
    cases += [b"10.0.0.1,1,2," + b"0" * zeros + b"7" for zeros in (4000, 4060, 4090, 5000)]  # around the size limit
    cases += [bytes(chance.choice(b"0123456789.,:ab -\r\x1e\x0b") for _ in range(chance.randint(0, 30))) for _ in range(50_000)]
    cases += [b"%d.%d.%d.%d,%s,%s,%s" % (chance.randint(0, 300), chance.randint(0, 300), chance.randint(0, 9),
                                          chance.choice((0, 1, 255, 256)), chance.choice((b"0", b"007", b"1" * 20)),
                                          chance.choice((b"0", b"9" * 19, b"5")), chance.choice((b"0", b"00", b"01", b"1")))
              for _ in range(20_000)]
    for raw in cases:
        expected = _start_time_or_reason(raw)
        try:
            fast = entry_start_time(raw)
        except InvalidEntry as invalid:
            fast = invalid.reason
        assert fast == expected, raw
    separate = [raw for raw in cases if RECORD_SEPARATOR not in raw]
    records = b"".join(raw + RECORD_SEPARATOR for raw in separate)
    for raw, start_time in zip(separate, plain_entry_start_times(records), strict=True):
        if start_time:
            assert int(start_time) == _start_time_or_reason(raw), raw
    lines = [raw for raw in cases if b"\n" not in raw]
    fields = plain_entry_fields(b"".join(raw + b"\n" for raw in lines))
    assert len(fields) == len(lines)
    plain = 0
    for raw, (host, config_id, start_time) in zip(lines, fields, strict=True):
        if start_time:
            plain += 1
            entry = parse_entry(raw)
            assert (host.decode(), int(config_id), int(start_time)) == (entry.host, entry.config_id, entry.start_time), raw
        else:
            assert (host, config_id) == (b"", b""), raw
    assert plain > 4000  # the generator's valid entries at least


# 9999-12-31T23:59:59Z, computed here: the last second a date can name
LAST_SECOND = 253402300799
HOUR_MS = 3_600_000


@pytest.mark.parametrize(("start_time", "stamp_ms", "plausible"), [
    (1_000_000, 1_000_000_000, True),                       # the same second
    (1_000_000 - 3600, 1_000_000_000, True),                # exactly max_age before
    (1_000_000 - 3601, 1_000_000_000, False),
    (1_000_000 + 600, 1_000_000_999, True),                 # exactly max_lead after (the stamp's second)
    (1_000_000 + 601, 1_000_000_999, False),
    (LAST_SECOND, (LAST_SECOND - 100) * 1000, True),        # within the lead, and the last nameable second
    (LAST_SECOND + 1, (LAST_SECOND - 100) * 1000, False),   # within the lead, but past 9999-12-31
    (999_999_999_999_999_999, 1_000_000_000, False),
    (1_000_000, 0, False),                                  # no timestamp to judge by
    (1_000_000, -1, False),
    (1_000_000, (LAST_SECOND + 1) * 1000, False),
])
def test_a_start_time_is_plausible_within_its_records_kafka_timestamps_bounds(start_time, stamp_ms, plausible):
    bounds = StartTimeBounds(max_age=3600, max_lead=600)
    line = b"10.0.0.1,5,%d,60" % start_time
    if plausible:
        assert valid_start_time(line, stamp_ms, bounds) == start_time
    else:
        with pytest.raises(InvalidEntry) as refused:
            valid_start_time(line, stamp_ms, bounds)
        assert refused.value.reason == "implausible_start_time"


def test_a_malformed_entry_keeps_its_own_reason_whatever_its_timestamp():
    with pytest.raises(InvalidEntry) as refused:
        valid_start_time(b"10.0.0.1,5,-1,60", -1, StartTimeBounds())
    assert refused.value.reason == "bad_start_time"
