"""What the live dashboard shows, read from the result store in one consistent snapshot per topic.

Read-only queries over the tables of ``schema.py`` (asyncpg, so the dashboard's event loop is never
blocked). Event-time windows end at a topic's newest pane, so a topic that is replaying old hours
still shows its "current" window rather than an empty one:

- records per second: records of the flushes committed in the last 60 s of wall time, / 60;
- last update: the newest flush's commit time;
- top hosts: the 5 newest panes (the current 5-minute window), the 10 busiest hosts;
- per Configuration ID: the 60 newest panes (the last hour), the 20 busiest IDs;
- late (counted, within the lateness) and expired (after it) records: the last hour's panes;
- malformed records per reason: Kafka-time minutes of the last hour of wall time;
- next offsets: per partition, those stored by the topology of the newest flush (the feed compares
  them with Kafka's ends to tell stale statistics, ``staleness.py``, and takes them out);
- history (the page's charts): per pane of the last hour, its records, late and expired records, the
  sliding five-minute window ending at it, the records of the hour's ``STACKED_CONFIGS`` busiest
  Configuration IDs and of all others; malformed records per reason per minute of the last hour;
- ``read_series``: one host's or one Configuration ID's records per pane of the last hour and its
  share of the topic's records (the page's drill-down).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from logstream.results.schema import BAD_RECORDS, FLUSHES, OFFSETS, PANE_CONFIG_COUNTS, PANE_HOST_COUNTS, PANE_SECONDS, PANE_TOTALS

RATE_SECONDS = 60
TOP_HOSTS = 10
TOP_CONFIGS = 20
HOUR_PANES = 60
WINDOW_PANES = 5
STACKED_CONFIGS = 5
SERIES_KEYS = ("host", "config_id")

# ties are broken by name in byte order, not by the database's locale, so the order is the same anywhere
_BYTEWISE = {"host": ' COLLATE "C"'}

# Every query but _TOPICS is of the topics in $1 (text[]), one index lookup per topic: the tables
# grow by a row per flush and partition (online_flushes) or per pane and key, and a read that scanned
# them whole took 1.2 s over two days of history (bench/live_view_bench.py).

def _distinct_topics(table: str) -> str:
    """The topics of ``table`` by a walk down its index that leads with ``topic`` (one lookup per
    topic, where SELECT DISTINCT would read every row)."""
    return f"""
SELECT topic FROM (
    WITH RECURSIVE walk AS (
        SELECT min(topic) AS topic FROM {table}
        UNION ALL
        SELECT (SELECT min(topic) FROM {table} WHERE topic > walk.topic) FROM walk WHERE walk.topic IS NOT NULL
    ) SELECT topic FROM walk WHERE topic IS NOT NULL
) {table}_topics"""


_TOPICS = f"""
{_distinct_topics(PANE_TOTALS)} UNION {_distinct_topics(FLUSHES)} UNION {_distinct_topics(BAD_RECORDS)}
ORDER BY topic
"""

_NEWEST = f"""
SELECT t.topic, (SELECT max(pane_start) FROM {PANE_TOTALS} p WHERE p.topic = t.topic) AS newest
FROM unnest($1::text[]) AS t(topic)"""

_FLUSHES = f"""
SELECT t.topic,
       (SELECT coalesce(sum(records), 0)::bigint FROM {FLUSHES} f
        WHERE f.topic = t.topic AND f.committed_at > now() - make_interval(secs => {RATE_SECONDS})) AS recent_records,
       (SELECT max(committed_at) FROM {FLUSHES} f WHERE f.topic = t.topic) AS last_update
FROM unnest($1::text[]) AS t(topic)
"""


# the offsets of the topology that committed the topic's newest flush (not of a topology gone since,
# nor of the topic before it was made again, whose offsets could hide records waiting now)
_NEXT_OFFSETS = f"""
SELECT o.topic, o.partition, o.next_offset FROM unnest($1::text[]) AS t(topic)
CROSS JOIN LATERAL (SELECT topology FROM {FLUSHES} f WHERE f.topic = t.topic ORDER BY committed_at DESC LIMIT 1) newest
JOIN {OFFSETS} o ON o.topic = t.topic AND o.topology = newest.topology
"""


def _top(table: str, key: str, panes: int, limit: int) -> str:
    """The ``limit`` largest ``key``s of each topic over its ``panes`` newest 1-minute panes."""
    collation = _BYTEWISE.get(key, "")
    return f"""
SELECT topic, {key} AS key, records FROM (
    SELECT c.topic, c.{key}, sum(c.records)::bigint AS records,
           row_number() OVER (PARTITION BY c.topic ORDER BY sum(c.records) DESC, c.{key}{collation}) AS rank
    FROM {table} c JOIN ({_NEWEST}) n ON n.topic = c.topic
    WHERE c.pane_start > n.newest - make_interval(mins => {panes})
    GROUP BY c.topic, c.{key}
) ranked WHERE rank <= {limit} ORDER BY topic, rank
"""


_LATE = f"""
SELECT t.topic, n.newest, sum(t.late_records)::bigint AS late, sum(t.expired_records)::bigint AS expired
FROM {PANE_TOTALS} t JOIN ({_NEWEST}) n ON n.topic = t.topic
WHERE t.pane_start > n.newest - make_interval(mins => 60)
GROUP BY t.topic, n.newest
"""

_MALFORMED = f"""
SELECT topic, reason, sum(records)::bigint AS records FROM {BAD_RECORDS}
WHERE topic = ANY($1::text[]) AND minute > now() - make_interval(mins => 60)
GROUP BY topic, reason ORDER BY topic, records DESC, reason COLLATE "C"
"""


# a pane's totals over the hour and the four panes before it (the first window of the hour needs them)
_PANE_TOTALS = f"""
SELECT t.topic, t.pane_start, t.records, t.late_records, t.expired_records
FROM {PANE_TOTALS} t JOIN ({_NEWEST}) n ON n.topic = t.topic
WHERE t.pane_start > n.newest - make_interval(mins => {HOUR_PANES + WINDOW_PANES - 1})
"""

# per pane, the records of the hour's busiest Configuration IDs (ranked as the configs table is)
_STACKED_CONFIGS = f"""
WITH hour AS (
    SELECT c.topic, c.pane_start, c.config_id, c.records
    FROM {PANE_CONFIG_COUNTS} c JOIN ({_NEWEST}) n ON n.topic = c.topic
    WHERE c.pane_start > n.newest - make_interval(mins => {HOUR_PANES})
), busiest AS (
    SELECT topic, config_id, rank FROM (
        SELECT topic, config_id, row_number() OVER (PARTITION BY topic ORDER BY sum(records) DESC, config_id) AS rank
        FROM hour GROUP BY topic, config_id
    ) ranked WHERE rank <= {STACKED_CONFIGS}
)
SELECT h.topic, b.rank, h.config_id, h.pane_start, h.records FROM hour h JOIN busiest b USING (topic, config_id)
ORDER BY h.topic, b.rank
"""

_MALFORMED_MINUTES = f"""
SELECT topic, reason, minute, records FROM {BAD_RECORDS}
WHERE topic = ANY($1::text[]) AND minute > now() - make_interval(mins => {HOUR_PANES})
ORDER BY topic, reason COLLATE "C"
"""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def read_snapshot(conn: Any, *, unchanged: Collection[str] = ()) -> dict[str, Any]:
    """Everything the dashboard shows, for every topic, as JSON-ready data (``conn``: asyncpg), and
    ``topic_order``: every topic's name, in order. ``unchanged``: topics whose numbers the caller
    holds and knows to be unchanged (no flush since): named in ``topic_order``, not read, so a read
    after one topic's flush costs that topic's queries, not every topic's."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        now = await conn.fetchval("SELECT now()")
        order = [row["topic"] for row in await conn.fetch(_TOPICS)]
        topics = {name: _empty_topic(name) for name in order if name not in unchanged}
        names = list(topics)
        for row in await conn.fetch(_FLUSHES, names):
            topics[row["topic"]]["records_per_second"] = round(row["recent_records"] / RATE_SECONDS, 2)
            topics[row["topic"]]["last_update"] = _iso(row["last_update"])
        for row in await conn.fetch(_top(PANE_HOST_COUNTS, "host", 5, TOP_HOSTS), names):
            topics[row["topic"]]["top_hosts"].append({"host": row["key"], "records": row["records"]})
        for row in await conn.fetch(_top(PANE_CONFIG_COUNTS, "config_id", 60, TOP_CONFIGS), names):
            topics[row["topic"]]["configs_last_hour"].append({"config_id": row["key"], "records": row["records"]})
        for row in await conn.fetch(_LATE, names):
            topics[row["topic"]]["newest_pane"] = _iso(row["newest"])
            topics[row["topic"]]["late"] = {"late": row["late"], "expired": row["expired"]}
        for row in await conn.fetch(_MALFORMED, names):
            topics[row["topic"]]["malformed"].append({"reason": row["reason"], "records": row["records"]})
        for row in await conn.fetch(_NEXT_OFFSETS, names):
            if row["topic"] in topics:
                topics[row["topic"]]["next_offsets"][row["partition"]] = row["next_offset"]
        await _read_history(conn, now, topics, names)
    return {"generated_at": _iso(now), "topics": list(topics.values()), "topic_order": order}


def _hour_of_panes(newest: datetime) -> list[datetime]:
    return [newest - timedelta(seconds=PANE_SECONDS * back) for back in range(HOUR_PANES - 1, -1, -1)]


async def _read_history(conn: Any, now: datetime, topics: dict[str, dict[str, Any]], names: list[str]) -> None:
    """Every topic's ``history``: series over the panes of its last hour (and wall-clock minutes for
    malformed records, which have no event time), zero where nothing was counted."""
    totals: dict[str, dict[datetime, Any]] = {}
    for row in await conn.fetch(_PANE_TOTALS, names):
        totals.setdefault(row["topic"], {})[row["pane_start"]] = row
    stacked: dict[str, dict[int, dict[datetime, int]]] = {}
    for row in await conn.fetch(_STACKED_CONFIGS, names):
        stacked.setdefault(row["topic"], {}).setdefault(row["config_id"], {})[row["pane_start"]] = row["records"]
    malformed: dict[str, dict[str, dict[datetime, int]]] = {}
    for row in await conn.fetch(_MALFORMED_MINUTES, names):
        malformed.setdefault(row["topic"], {}).setdefault(row["reason"], {})[row["minute"]] = row["records"]
    minutes = _hour_of_panes(now.replace(second=0, microsecond=0))
    for name, topic in topics.items():
        history = topic["history"]
        # no minutes without a bad record in the hour: a topic's push then changes with its counts
        # only, not with every minute of the clock (each push carries only the changed topics)
        reasons = malformed.get(name, {})
        history["malformed"] = {
            "minutes": [_iso(m) for m in minutes] if reasons else [],
            "reasons": [{"reason": reason, "records": [counts.get(m, 0) for m in minutes]}
                        for reason, counts in reasons.items()],
        }
        panes_of_topic = totals.get(name)
        if not panes_of_topic:
            continue
        panes = _hour_of_panes(max(panes_of_topic))

        def column(field: str, pane: datetime) -> int:
            row = panes_of_topic.get(pane)
            return row[field] if row is not None else 0

        history["panes"] = [_iso(p) for p in panes]
        history["records"] = [column("records", p) for p in panes]
        history["late"] = [column("late_records", p) for p in panes]
        history["expired"] = [column("expired_records", p) for p in panes]
        history["window_5m"] = [
            sum(column("records", p - timedelta(seconds=PANE_SECONDS * back)) for back in range(WINDOW_PANES))
            for p in panes]
        history["configs"] = [{"config_id": config, "records": [counts.get(p, 0) for p in panes]}
                              for config, counts in stacked.get(name, {}).items()]
        history["other_configs"] = [
            records - sum(c["records"][i] for c in history["configs"])
            for i, records in enumerate(history["records"])]


async def read_series(conn: Any, topic: str, key: str, value: str | int) -> dict[str, Any] | None:
    """One host's (``key="host"``) or Configuration ID's records per pane of ``topic``'s last hour,
    and its share of the topic's records over that hour; None for a topic with no panes."""
    if key not in SERIES_KEYS:
        raise ValueError(f"a series is of one of {SERIES_KEYS}, not {key!r}")
    table = PANE_HOST_COUNTS if key == "host" else PANE_CONFIG_COUNTS
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        newest = await conn.fetchval(f"SELECT max(pane_start) FROM {PANE_TOTALS} WHERE topic = $1", topic)
        if newest is None:
            return None
        panes = _hour_of_panes(newest)
        rows = await conn.fetch(
            f"SELECT pane_start, records, late_records FROM {table} "
            f"WHERE topic = $1 AND {key} = $2 AND pane_start >= $3 AND pane_start <= $4",
            topic, value, panes[0], newest)
        total = await conn.fetchval(
            f"SELECT coalesce(sum(records), 0)::bigint FROM {PANE_TOTALS} "
            "WHERE topic = $1 AND pane_start >= $2 AND pane_start <= $3", topic, panes[0], newest)
    by_pane = {row["pane_start"]: row for row in rows}
    records = [by_pane[p]["records"] if p in by_pane else 0 for p in panes]
    return {
        "topic": topic, "key": key, "value": value,
        "panes": [_iso(p) for p in panes],
        "records": records,
        "late": [by_pane[p]["late_records"] if p in by_pane else 0 for p in panes],
        "share": round(sum(records) / total, 4) if total else 0.0,
    }


def _empty_topic(topic: str) -> dict[str, Any]:
    return {
        "topic": topic,
        "records_per_second": 0.0,
        "last_update": None,
        "newest_pane": None,
        "top_hosts": [],
        "configs_last_hour": [],
        "late": {"late": 0, "expired": 0},
        "malformed": [],
        "next_offsets": {},
        "history": {"panes": [], "records": [], "late": [], "expired": [], "window_5m": [], "configs": [],
                    "other_configs": [], "malformed": {"minutes": [], "reasons": []}},
    }
