"""The dashboard's queries against the real result store: windows end at the topic's newest pane."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
from online_results import PANE, Entry, OnlineResults, minute, utc_now

from logstream.results.live_view import read_series, read_snapshot


def snapshot_of(results: OnlineResults) -> tuple[dict, dict]:
    async def read() -> dict:
        conn = await asyncpg.connect(results.dsn)
        try:
            return await read_snapshot(conn)
        finally:
            await conn.close()

    snapshot = asyncio.run(read())
    return snapshot, next(topic for topic in snapshot["topics"] if topic["topic"] == results.topic)


def test_windows_rates_and_reasons_over_two_hours_of_panes(results):
    # event time two hours back (a replay), so nothing depends on the wall clock but the flush times
    newest = minute(utc_now()) - timedelta(hours=2)
    entries = []
    for age in range(90):  # one pane a minute, 90 minutes of them, busier hosts in the newer panes
        pane = newest - age * PANE
        for i in range(1 + age % 7):
            entries.append(Entry(host=f"10.0.{age % 3}.{i}", config_id=1000 + (age * i) % 25, pane_start=pane,
                                 late=(i == 0 and age % 5 == 0)))
    old = utc_now() - timedelta(minutes=3)
    results.commit(entries[: len(entries) // 2], committed_at=old,
                   malformed={(minute(utc_now()) - timedelta(minutes=10), "field_count"): 4,
                              (minute(utc_now()) - timedelta(hours=2), "field_count"): 50})
    results.commit(entries[len(entries) // 2:], expired={newest - 3 * PANE: 6, newest - 80 * PANE: 9},
                   malformed={(minute(utc_now()) - timedelta(minutes=1), "bad_ip"): 7,
                              (minute(utc_now()) - timedelta(minutes=2), "field_count"): 1})

    snapshot, topic = snapshot_of(results)
    now = datetime.fromisoformat(snapshot["generated_at"])
    assert topic["newest_pane"] == newest.isoformat()
    assert topic["top_hosts"] == results.top_hosts()
    assert topic["configs_last_hour"] == results.configs_last_hour()
    assert len(topic["configs_last_hour"]) == 20
    assert topic["late"] == results.late() and topic["late"]["expired"] == 6
    assert topic["malformed"] == results.malformed_last_hour(now) == [
        {"reason": "bad_ip", "records": 7}, {"reason": "field_count", "records": 5}]
    # only the second flush is within the last minute
    assert topic["records_per_second"] == results.records_per_second(now) == round((len(entries) - len(entries) // 2) / 60, 2)
    assert topic["last_update"] == results.last_update().isoformat()


def series_of(results: OnlineResults, key: str, value) -> dict | None:
    async def read() -> dict | None:
        conn = await asyncpg.connect(results.dsn)
        try:
            return await read_series(conn, results.topic, key, value)
        finally:
            await conn.close()

    return asyncio.run(read())


def test_the_charts_series_cover_the_hour_pane_by_pane_with_zeros_where_nothing_was_counted(results):
    newest = minute(utc_now()) - timedelta(hours=3)
    entries = []
    for age in range(70):  # 70 panes, every seventh one empty; 9 Configuration IDs of different weights
        if age % 7 == 3:
            continue
        pane = newest - age * PANE
        for i in range(2 + age % 5):
            entries.append(Entry(host=f"10.1.0.{i % 3}", config_id=500 + (i * i + age) % 9, pane_start=pane,
                                 late=(i == 1 and age % 4 == 0)))
    results.commit(entries[::2], expired={newest - 5 * PANE: 4, newest - 64 * PANE: 8},
                   malformed={(minute(utc_now()) - timedelta(minutes=4), "field_count"): 3,
                              (minute(utc_now()) - timedelta(minutes=90), "field_count"): 30})
    results.commit(entries[1::2], malformed={(minute(utc_now()) - timedelta(minutes=4), "bad_ip"): 2,
                                             (minute(utc_now()) - timedelta(minutes=33), "field_count"): 5})

    snapshot, topic = snapshot_of(results)
    history = topic["history"]
    expected = results.history()
    assert {k: v for k, v in history.items() if k != "malformed"} == expected
    assert len(history["panes"]) == 60 and history["panes"][-1] == newest.isoformat()
    assert 0 in history["records"] and len(history["configs"]) == 5
    # the stack's top is the minute's records; the window's first minutes reach before the hour
    assert [sum(c["records"][i] for c in history["configs"]) + history["other_configs"][i]
            for i in range(60)] == history["records"]
    assert history["window_5m"][0] > history["records"][0]
    now = datetime.fromisoformat(snapshot["generated_at"])
    assert history["malformed"] == results.malformed_minutes(now)
    assert [r["reason"] for r in history["malformed"]["reasons"]] == ["bad_ip", "field_count"]

    busiest_host = results.top_hosts()[0]["host"]
    assert series_of(results, "host", busiest_host) == results.series("host", busiest_host)
    config = history["configs"][2]["config_id"]
    shown = series_of(results, "config_id", config)
    assert shown == results.series("config_id", config)
    assert shown["records"] == history["configs"][2]["records"] and 0 < shown["share"] < 1
    assert series_of(results, "host", "192.0.2.99")["records"] == [0] * 60


def test_a_topic_with_only_bad_records_shows_them_and_zeros(results):
    results.commit([], malformed={(minute(utc_now()), "not_utf8"): 3})
    _, topic = snapshot_of(results)
    assert topic["malformed"] == [{"reason": "not_utf8", "records": 3}]
    assert topic["top_hosts"] == [] and topic["configs_last_hour"] == [] and topic["newest_pane"] is None
    assert topic["records_per_second"] == 0.0 and topic["late"] == {"late": 0, "expired": 0}


def test_a_read_skips_the_topics_named_unchanged_and_still_names_every_topic(results):
    """The feed reads only the flushed topics after a flush: the others, named ``unchanged``, are not
    read but keep their place in ``topic_order``; the topics read have the numbers the test wrote."""
    other = OnlineResults(results.dsn, f"{results.topic}_other")
    pane = minute(utc_now())
    try:
        results.commit([Entry(host="10.9.0.1", config_id=5, pane_start=pane)] * 3)
        other.commit([Entry(host="10.9.0.2", config_id=6, pane_start=pane)] * 4)

        async def read(unchanged: set[str]) -> dict:
            conn = await asyncpg.connect(results.dsn)
            try:
                return await read_snapshot(conn, unchanged=unchanged)
            finally:
                await conn.close()

        full = asyncio.run(read(set()))
        partial = asyncio.run(read({other.topic}))
        assert partial["topic_order"] == full["topic_order"] == [t["topic"] for t in full["topics"]]
        assert {results.topic, other.topic} <= set(partial["topic_order"])
        assert other.topic not in [t["topic"] for t in partial["topics"]]
        mine = next(t for t in partial["topics"] if t["topic"] == results.topic)
        assert mine["top_hosts"] == results.top_hosts() == [{"host": "10.9.0.1", "records": 3}]
        assert next(t for t in full["topics"] if t["topic"] == other.topic)["top_hosts"] == other.top_hosts()
    finally:
        other.delete()
