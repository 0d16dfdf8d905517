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
  them with Kafka's ends to tell stale statistics, ``staleness.py``, and takes them out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logstream.results.schema import BAD_RECORDS, FLUSHES, OFFSETS, PANE_CONFIG_COUNTS, PANE_HOST_COUNTS, PANE_TOTALS

RATE_SECONDS = 60
TOP_HOSTS = 10
TOP_CONFIGS = 20

# ties are broken by name in byte order, not by the database's locale, so the order is the same anywhere
_BYTEWISE = {"host": ' COLLATE "C"'}

_NEWEST = f"SELECT topic, max(pane_start) AS newest FROM {PANE_TOTALS} GROUP BY topic"

_TOPICS = f"""
SELECT topic FROM {PANE_TOTALS} UNION SELECT topic FROM {FLUSHES} UNION SELECT topic FROM {BAD_RECORDS}
ORDER BY topic
"""

_FLUSHES = f"""
SELECT topic,
       coalesce(sum(records) FILTER (WHERE committed_at > now() - make_interval(secs => {RATE_SECONDS})), 0)::bigint
           AS recent_records,
       max(committed_at) AS last_update
FROM {FLUSHES} GROUP BY topic
"""


# the offsets of the topology that committed the topic's newest flush (not of a topology gone since,
# nor of the topic before it was made again, whose offsets could hide records waiting now)
_NEXT_OFFSETS = f"""
SELECT o.topic, o.partition, o.next_offset FROM {OFFSETS} o
JOIN (SELECT DISTINCT ON (topic) topic, topology FROM {FLUSHES} ORDER BY topic, committed_at DESC) newest
  ON newest.topic = o.topic AND newest.topology = o.topology
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
WHERE minute > now() - make_interval(mins => 60)
GROUP BY topic, reason ORDER BY topic, records DESC, reason COLLATE "C"
"""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def read_snapshot(conn: Any) -> dict[str, Any]:
    """Everything the dashboard shows, for every topic, as JSON-ready data (``conn``: asyncpg)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        now = await conn.fetchval("SELECT now()")
        topics = {row["topic"]: _empty_topic(row["topic"]) for row in await conn.fetch(_TOPICS)}
        for row in await conn.fetch(_FLUSHES):
            topics[row["topic"]]["records_per_second"] = round(row["recent_records"] / RATE_SECONDS, 2)
            topics[row["topic"]]["last_update"] = _iso(row["last_update"])
        for row in await conn.fetch(_top(PANE_HOST_COUNTS, "host", 5, TOP_HOSTS)):
            topics[row["topic"]]["top_hosts"].append({"host": row["key"], "records": row["records"]})
        for row in await conn.fetch(_top(PANE_CONFIG_COUNTS, "config_id", 60, TOP_CONFIGS)):
            topics[row["topic"]]["configs_last_hour"].append({"config_id": row["key"], "records": row["records"]})
        for row in await conn.fetch(_LATE):
            topics[row["topic"]]["newest_pane"] = _iso(row["newest"])
            topics[row["topic"]]["late"] = {"late": row["late"], "expired": row["expired"]}
        for row in await conn.fetch(_MALFORMED):
            topics[row["topic"]]["malformed"].append({"reason": row["reason"], "records": row["records"]})
        for row in await conn.fetch(_NEXT_OFFSETS):
            if row["topic"] in topics:
                topics[row["topic"]]["next_offsets"][row["partition"]] = row["next_offset"]
    return {"generated_at": _iso(now), "topics": list(topics.values())}


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
    }
