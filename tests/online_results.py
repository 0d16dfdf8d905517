"""Online statistics written into the real result store the way the Storm topology commits them
(counts, offsets and the flush row in one transaction that also sends ``NOTIFY online_panes``), and
the numbers the dashboard must show for them, computed here in plain Python from the entries."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg2

from logstream.results import schema
from logstream.results.store import ensure_schema

TOPOLOGY = "security_stats_test"
PANE = timedelta(seconds=schema.PANE_SECONDS)


@dataclass(frozen=True)
class Entry:
    host: str
    config_id: int
    pane_start: datetime
    late: bool = False


@dataclass
class OnlineResults:
    """Everything committed for one ``topic`` so far, kept to compute what the page must show."""

    dsn: str
    topic: str
    entries: list[Entry] = field(default_factory=list)
    expired: Counter = field(default_factory=Counter)
    malformed: dict[tuple[datetime, str], int] = field(default_factory=dict)
    flushes: list[tuple[datetime, int]] = field(default_factory=list)
    next_offset: int = 0

    def create_tables(self) -> None:
        conn = psycopg2.connect(self.dsn)
        try:
            ensure_schema(conn)
        finally:
            conn.close()

    def delete(self) -> None:
        """Remove the topic's rows again (the result store outlives the test session)."""
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            for table in (schema.PANE_CONFIG_COUNTS, schema.PANE_HOST_COUNTS, schema.PANE_TOTALS, schema.BAD_RECORDS,
                          schema.OFFSETS, schema.FLUSHES):
                cur.execute(f"DELETE FROM {table} WHERE topic = %s", (self.topic,))
        conn.close()

    def commit(self, entries: list[Entry], *, expired: dict[datetime, int] | None = None,
               malformed: dict[tuple[datetime, str], int] | None = None, committed_at: datetime | None = None) -> None:
        """One flush: upsert the counts, the offset and the flush row, NOTIFY, commit."""
        expired = expired or {}
        malformed = malformed or {}
        records = len(entries) + sum(expired.values()) + sum(malformed.values())
        first, last = self.next_offset, self.next_offset + max(records, 1) - 1
        conn = psycopg2.connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                self._upsert(cur, entries, expired, malformed)
                cur.execute(
                    f"INSERT INTO {schema.OFFSETS} (topology, topic, partition, next_offset) VALUES (%s, %s, 0, %s) "
                    "ON CONFLICT (topology, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                    (TOPOLOGY, self.topic, last + 1))
                cur.execute(
                    f"INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records, committed_at) "
                    "VALUES (%s, %s, 0, %s, %s, %s, coalesce(%s, now())) RETURNING committed_at",
                    (TOPOLOGY, self.topic, first, last, len(entries), committed_at))
                self.flushes.append((cur.fetchone()[0], len(entries)))
                cur.execute("SELECT pg_notify(%s, %s)", (schema.NOTIFY_CHANNEL,
                            json.dumps({"topic": self.topic, "partition": 0, "last_offset": last})))
        finally:
            conn.close()
        self.next_offset = last + 1
        self.entries += entries
        self.expired.update(expired)
        for key, count in malformed.items():
            self.malformed[key] = self.malformed.get(key, 0) + count

    def _upsert(self, cur, entries: list[Entry], expired: dict[datetime, int],
                malformed: dict[tuple[datetime, str], int]) -> None:
        def add(table: str, key: str, counts: Counter, late: Counter) -> None:
            for (pane, value), records in counts.items():
                cur.execute(
                    f"INSERT INTO {table} (topic, pane_start, {key}, records, late_records) VALUES (%s, %s, %s, %s, %s) "
                    f"ON CONFLICT (topic, pane_start, {key}) DO UPDATE SET records = {table}.records + EXCLUDED.records, "
                    f"late_records = {table}.late_records + EXCLUDED.late_records",
                    (self.topic, pane, value, records, late[(pane, value)]))

        add(schema.PANE_HOST_COUNTS, "host", Counter((e.pane_start, e.host) for e in entries),
            Counter((e.pane_start, e.host) for e in entries if e.late))
        add(schema.PANE_CONFIG_COUNTS, "config_id", Counter((e.pane_start, e.config_id) for e in entries),
            Counter((e.pane_start, e.config_id) for e in entries if e.late))
        panes = Counter(e.pane_start for e in entries)
        late = Counter(e.pane_start for e in entries if e.late)
        for pane in panes.keys() | expired.keys():
            cur.execute(
                f"INSERT INTO {schema.PANE_TOTALS} (topic, pane_start, records, late_records, expired_records) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (topic, pane_start) DO UPDATE SET "
                f"records = {schema.PANE_TOTALS}.records + EXCLUDED.records, "
                f"late_records = {schema.PANE_TOTALS}.late_records + EXCLUDED.late_records, "
                f"expired_records = {schema.PANE_TOTALS}.expired_records + EXCLUDED.expired_records, updated_at = now()",
                (self.topic, pane, panes[pane], late[pane], expired.get(pane, 0)))
        for (minute, reason), records in malformed.items():
            cur.execute(
                f"INSERT INTO {schema.BAD_RECORDS} (topic, minute, reason, records) VALUES (%s, %s, %s, %s) "
                f"ON CONFLICT (topic, minute, reason) DO UPDATE SET records = {schema.BAD_RECORDS}.records + EXCLUDED.records",
                (self.topic, minute, reason, records))

    # What the page must show, from the entries (independently of the dashboard's SQL).

    def newest_pane(self) -> datetime:
        return max([e.pane_start for e in self.entries] + list(self.expired))

    def top_hosts(self, limit: int = 10) -> list[dict]:
        window = self.newest_pane() - 4 * PANE
        counts = Counter(e.host for e in self.entries if e.pane_start >= window)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [{"host": host, "records": records} for host, records in ranked]

    def configs_last_hour(self, limit: int = 20) -> list[dict]:
        window = self.newest_pane() - 59 * PANE
        counts = Counter(e.config_id for e in self.entries if e.pane_start >= window)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [{"config_id": config, "records": records} for config, records in ranked]

    def late(self) -> dict:
        window = self.newest_pane() - 59 * PANE
        return {"late": sum(1 for e in self.entries if e.late and e.pane_start >= window),
                "expired": sum(count for pane, count in self.expired.items() if pane >= window)}

    def malformed_last_hour(self, now: datetime) -> list[dict]:
        counts = Counter()
        for (minute, reason), records in self.malformed.items():
            if minute > now - timedelta(hours=1):
                counts[reason] += records
        return [{"reason": reason, "records": records}
                for reason, records in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    def hour_of_panes(self) -> list[datetime]:
        return [self.newest_pane() - back * PANE for back in range(59, -1, -1)]

    def history(self) -> dict:
        """The charts' series over the last hour's panes: counted from the entries one by one."""
        panes = self.hour_of_panes()
        records = Counter(e.pane_start for e in self.entries)
        hour = set(panes)
        by_config = Counter(e.config_id for e in self.entries if e.pane_start in hour)
        busiest = [config for config, _ in sorted(by_config.items(), key=lambda item: (-item[1], item[0]))[:5]]
        configs = [{"config_id": config,
                    "records": [sum(1 for e in self.entries if e.pane_start == p and e.config_id == config) for p in panes]}
                   for config in busiest]
        return {
            "panes": [p.isoformat() for p in panes],
            "records": [records[p] for p in panes],
            "late": [sum(1 for e in self.entries if e.pane_start == p and e.late) for p in panes],
            "expired": [self.expired[p] for p in panes],
            "window_5m": [sum(records[p - back * PANE] for back in range(5)) for p in panes],
            "configs": configs,
            "other_configs": [sum(1 for e in self.entries if e.pane_start == p and e.config_id not in busiest) for p in panes],
        }

    def malformed_minutes(self, now: datetime) -> dict:
        minutes = [minute(now) - back * PANE for back in range(59, -1, -1)]
        reasons = sorted({reason for (_, reason) in self.malformed}, key=lambda r: r.encode())
        series = [{"reason": reason, "records": [self.malformed.get((m, reason), 0) for m in minutes]}
                  for reason in reasons]
        shown = [s for s in series if any(s["records"])]
        return {"minutes": [m.isoformat() for m in minutes] if shown else [], "reasons": shown}

    def series(self, key: str, value) -> dict:
        """One host's or Configuration ID's records per pane of the last hour, and its share."""
        panes = self.hour_of_panes()
        mine = [e for e in self.entries if getattr(e, key) == value]
        records = [sum(1 for e in mine if e.pane_start == p) for p in panes]
        hour_total = sum(1 for e in self.entries if e.pane_start in set(panes))
        return {"topic": self.topic, "key": key, "value": value, "panes": [p.isoformat() for p in panes],
                "records": records, "late": [sum(1 for e in mine if e.pane_start == p and e.late) for p in panes],
                "share": round(sum(records) / hour_total, 4)}

    def records_per_second(self, now: datetime) -> float:
        return round(sum(records for at, records in self.flushes if at > now - timedelta(seconds=60)) / 60, 2)

    def last_update(self) -> datetime:
        return max(at for at, _ in self.flushes)


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
