from __future__ import annotations

from datetime import datetime, timezone

import pytest

from logstream.log_hours.hours import dt_and_hour, hours_clause, hours_from_events, hours_in_interval, parse_hour_key, shift


def test_keys_name_utc_hours_and_their_partitions():
    assert parse_hour_key("2025-12-31T23") == datetime(2025, 12, 31, 23, tzinfo=timezone.utc)
    assert dt_and_hour("2026-01-01T05") == ("2026-01-01", "05")
    assert shift("2025-12-31T23", 1) == "2026-01-01T00"
    assert shift("2026-03-01T00", -24) == "2026-02-28T00"
    with pytest.raises(ValueError):
        parse_hour_key("2025-12-31 23:00")


def test_an_hourly_data_interval_is_one_hour_and_a_longer_one_all_of_its_hours():
    start = datetime(2025, 12, 31, 23, tzinfo=timezone.utc)
    assert hours_in_interval(start, datetime(2026, 1, 1, 0, tzinfo=timezone.utc)) == ["2025-12-31T23"]
    assert hours_in_interval(start, datetime(2026, 1, 1, 2, tzinfo=timezone.utc)) == ["2025-12-31T23", "2026-01-01T00", "2026-01-01T01"]


def test_asset_events_name_the_hours_of_their_topic():
    extras = [
        {"topic": "security_logs", "hours": ["2026-01-01T00", "2025-12-31T23"]},
        {"topic": "other", "hours": ["2026-01-01T05"]},
        {"topic": "security_logs", "hours": ["2026-01-01T00"]},
    ]
    assert hours_from_events(extras, "security_logs") == ["2025-12-31T23", "2026-01-01T00"]
    with pytest.raises(ValueError):
        hours_from_events([{"topic": "security_logs", "hours": ["yesterday"]}], "security_logs")


def test_the_where_clause_of_some_hours():
    assert hours_clause("t", ["2026-01-01T00", "2025-12-31T23"]) == (
        "topic = 't' AND ((dt = '2025-12-31' AND hour = '23') OR (dt = '2026-01-01' AND hour = '00'))"
    )
    assert hours_clause("t", []) == "topic = 't' AND (FALSE)"
