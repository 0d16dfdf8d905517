"""Online against offline: an hour's counts in the result database (the Storm topology's panes)
against the same hour's Hive reports (the HadoopConsumer's landed logs), per Configuration ID and
per host.

Both sides count the valid entries whose StartTime falls in the hour, and both restate: a late
record within the online allowed lateness updates its pane; a record that lands late offline gives
the hour a new report version. So an hour is compared once the online side is final (every
partition's watermark has passed the hour's end plus the allowed lateness) and the offline side has
a report; comparing again later compares the restated rows. One difference is known and explained:
records that reach the topology after the allowed lateness ("expired") are counted in the pane's
total only, in no Configuration ID or host; the offline side has them under their keys. An hour
whose only differences add up to its expired records, each key higher offline, is ``explained``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from logstream.log_hours.hours import HOUR, dt_and_hour, parse_hour_key

Query = Callable[[str, Sequence], Sequence[Sequence]]  # (sql, parameters) -> rows (PostgreSQL, DB-API paramstyle)
HiveQuery = Callable[[str], Sequence[Sequence]]

EQUAL, EXPLAINED, DIFFERENT = "equal", "explained", "different"


@dataclass(frozen=True)
class HourCounts:
    total: int
    by_config: Mapping[int, int]
    by_host: Mapping[str, int]
    expired: int = 0  # online only: records of the hour that came after the allowed lateness
    version: int | None = None  # offline only: the report version compared


@dataclass(frozen=True)
class KeyDifference:
    kind: str  # "config" or "host"
    key: str
    online: int
    offline: int


@dataclass
class HourReconciliation:
    topic: str
    hour: str  # YYYY-MM-DDTHH
    online: HourCounts
    offline: HourCounts
    differences: list[KeyDifference] = field(default_factory=list)
    status: str = EQUAL

    def summary(self) -> str:
        text = (f"{self.topic} {self.hour}: {self.status}; online {self.online.total} records "
                f"(+{self.online.expired} expired), offline {self.offline.total} (version {self.offline.version})")
        if self.status == DIFFERENT:
            shown = ", ".join(f"{d.kind} {d.key}: online {d.online} offline {d.offline}" for d in self.differences[:10])
            text += f"; {len(self.differences)} key(s) differ: {shown}"
        return text


ONLINE_HOUR = "topic = %s AND pane_start >= %s AND pane_start < %s"


def _online_window(topic: str, hour: str) -> tuple:
    start = parse_hour_key(hour)
    return topic, start, start + HOUR


def online_host_counts(query: Query, topic: str, hour: str) -> dict[str, int]:
    """The topology's records per host in the hour (records past the allowed lateness are in no host)."""
    return _nonzero({str(k): int(v) for k, v in query(
        f"SELECT host, sum(records) FROM online_pane_host_counts WHERE {ONLINE_HOUR} GROUP BY host",
        _online_window(topic, hour))})


def online_hour_counts(query: Query, topic: str, hour: str) -> HourCounts:
    window = _online_window(topic, hour)
    by_config = {int(k): int(v) for k, v in query(
        f"SELECT config_id, sum(records) FROM online_pane_config_counts WHERE {ONLINE_HOUR} GROUP BY config_id", window)}
    [(total, expired)] = query(
        f"SELECT coalesce(sum(records), 0), coalesce(sum(expired_records), 0) FROM online_pane_totals WHERE {ONLINE_HOUR}",
        window)
    return HourCounts(int(total), _nonzero(by_config), online_host_counts(query, topic, hour), expired=int(expired))


def online_final_through(query: Query, topology: str, topic: str, kafka_ends: Mapping[int, int]) -> datetime | None:
    """Up to when the online counts are final: the smallest partition watermark (StartTime, epoch
    seconds) the topology committed, as a moment; panes before it minus the allowed lateness no
    longer change. None when no partition has a watermark yet, or one that has none still has
    records in Kafka (``kafka_ends``: each partition's next offset) that the topology has not
    counted, or a partition with records has no position at all (the topology never took it). A
    partition with no watermark that the topology has read to Kafka's end (a topic with more
    partitions than hosts; only bad records) holds no hour back."""
    positions = {int(partition): (int(next_offset), watermark) for partition, next_offset, watermark in query(
        "SELECT partition, next_offset, watermark FROM online_offsets WHERE topology = %s AND topic = %s",
        (topology, topic))}
    watermarks = []
    for partition in sorted(set(positions) | set(kafka_ends)):
        next_offset, watermark = positions.get(partition, (0, None))  # no position: nothing read yet
        if watermark is not None:
            watermarks.append(int(watermark))
        elif next_offset < kafka_ends.get(partition, 0):
            return None
    if not watermarks:
        return None
    return datetime.fromtimestamp(min(watermarks), tz=timezone.utc)


def online_hour_is_final(query: Query, topology: str, topic: str, hour: str, allowed_lateness: timedelta,
                         kafka_ends: Mapping[int, int]) -> bool:
    final_through = online_final_through(query, topology, topic, kafka_ends)
    return final_through is not None and final_through >= parse_hour_key(hour) + HOUR + allowed_lateness


def _offline_hour(topic: str, hour: str) -> str:
    dt, hh = dt_and_hour(hour)
    return f"topic = '{topic}' AND dt = '{dt}' AND hour = '{hh}'"


def offline_hour_version(query: HiveQuery, database: str, topic: str, hour: str) -> int | None:
    """The version of the hour's Hive reports, or None when it has not been reported."""
    [(version,)] = query(f"SELECT max(version) FROM {database}.report_runs WHERE {_offline_hour(topic, hour)}")
    return None if version is None else int(version)


def offline_host_counts(query: HiveQuery, database: str, topic: str, hour: str) -> dict[str, int]:
    """The hour's ``records_per_host`` report (empty when it has not been reported)."""
    return _nonzero({str(k): int(v) for k, v in query(
        f"SELECT host, records FROM {database}.report_records_per_host WHERE {_offline_hour(topic, hour)}")})


def offline_hour_counts(query: HiveQuery, database: str, topic: str, hour: str) -> HourCounts | None:
    """The hour's Hive reports (their current version), or None when it has not been reported."""
    version = offline_hour_version(query, database, topic, hour)
    if version is None:
        return None
    by_config = {int(k): int(v) for k, v in query(
        f"SELECT config_id, records FROM {database}.report_records_per_config WHERE {_offline_hour(topic, hour)}")}
    return HourCounts(sum(by_config.values()), _nonzero(by_config), offline_host_counts(query, database, topic, hour),
                      version=version)


def reconcile_hour(topic: str, hour: str, online: HourCounts, offline: HourCounts) -> HourReconciliation:
    result = HourReconciliation(topic, hour, online, offline)
    for kind, online_keys, offline_keys in (("config", online.by_config, offline.by_config),
                                            ("host", online.by_host, offline.by_host)):
        for key in sorted(set(online_keys) | set(offline_keys), key=str):
            got, want = online_keys.get(key, 0), offline_keys.get(key, 0)
            if got != want:
                result.differences.append(KeyDifference(kind, str(key), got, want))
    if not result.differences and online.total == offline.total and online.expired == 0:
        result.status = EQUAL
    elif _explained_by_expired(result):
        result.status = EXPLAINED
    else:
        result.status = DIFFERENT
    return result


def _explained_by_expired(result: HourReconciliation) -> bool:
    expired = result.online.expired
    if expired == 0 or result.online.total + expired != result.offline.total:
        return False
    for kind in ("config", "host"):
        gaps = [d.offline - d.online for d in result.differences if d.kind == kind]
        if any(gap < 0 for gap in gaps) or sum(gaps) != expired:
            return False
    return True


def _nonzero(counts: Mapping) -> dict:
    return {key: value for key, value in counts.items() if value}


@contextmanager
def transaction(connection) -> Iterator:
    """A cursor whose statements commit together, or roll back on an error (a DB-API connection:
    psycopg2's and psycopg 3's ``with connection`` mean different things, so neither is used)."""
    cursor = connection.cursor()
    try:
        yield cursor
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        cursor.close()


def save_reconciliation(connection, result: HourReconciliation) -> None:
    """Replace the hour's rows in ``reconciliation_hours`` and ``reconciliation_keys`` (PostgreSQL,
    a DB-API connection), in one transaction: comparing an hour again leaves only the latest.

    The hour's row is written first: its row lock makes a second writer of the same hour (a rerun
    beside a scheduled run) wait until this transaction commits, and then replace its keys whole."""
    start = parse_hour_key(result.hour)
    with transaction(connection) as cursor:
        cursor.execute(
            """INSERT INTO reconciliation_hours (topic, hour_start, status, online_records, online_expired,
                   offline_records, offline_version, differing_keys, checked_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (topic, hour_start) DO UPDATE SET status = EXCLUDED.status,
                   online_records = EXCLUDED.online_records, online_expired = EXCLUDED.online_expired,
                   offline_records = EXCLUDED.offline_records, offline_version = EXCLUDED.offline_version,
                   differing_keys = EXCLUDED.differing_keys, checked_at = EXCLUDED.checked_at""",
            (result.topic, start, result.status, result.online.total, result.online.expired, result.offline.total,
             result.offline.version, len(result.differences)),
        )
        cursor.execute("DELETE FROM reconciliation_keys WHERE topic = %s AND hour_start = %s", (result.topic, start))
        cursor.executemany(
            "INSERT INTO reconciliation_keys VALUES (%s, %s, %s, %s, %s, %s)",
            [(result.topic, start, d.kind, d.key, d.online, d.offline) for d in result.differences],
        )


COMPARISON_COLUMNS = ("kind", "key", "online", "offline", "difference")


def comparison_rows(result: HourReconciliation) -> list[tuple]:
    """Every key of the hour on both sides (kind, key, online, offline, offline - online), then the totals."""
    rows: list[tuple] = []
    for kind, online_keys, offline_keys in (("config", result.online.by_config, result.offline.by_config),
                                            ("host", result.online.by_host, result.offline.by_host)):
        for key in sorted(set(online_keys) | set(offline_keys), key=str):
            got, want = online_keys.get(key, 0), offline_keys.get(key, 0)
            rows.append((kind, key, got, want, want - got))
    rows.append(("total", "", result.online.total, result.offline.total, result.offline.total - result.online.total))
    rows.append(("expired_online", "", result.online.expired, "", ""))
    return rows
