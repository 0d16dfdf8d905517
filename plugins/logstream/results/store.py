"""Writing the online counts exactly once: a flush's pane deltas and its partition's next offset go
in one transaction, and only if the stored next offset is the flush's first offset.

That guard is the whole exactly-once argument (``plugins/logstream/storm/DESIGN.md``): a replayed
offset range finds the stored offset already past it and changes nothing; a second copy of a writer
waits on the offset row's lock, then finds it moved. Both dialects share this shape; each gives its
own SQL. :class:`PostgresResultStore` runs on the stack; :class:`OracleResultStore` is the same
recipe in ``MERGE`` statements, written against Oracle's documentation and never run (no Oracle
server can be obtained here).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from logstream.results import schema
from logstream.storm.window_counter import PaneDeltas

# Every session of the result store is bounded (libpq options, for connections that say nothing
# else): a stuck statement or lock wait ends after 5 minutes, and a writer paused inside a
# transaction (SIGSTOP, a long GC, a cut link) loses the transaction and its row locks after a
# minute, so the other copy of a bolt waits for it no longer than that.
SESSION_OPTIONS = "-c statement_timeout=300s -c idle_in_transaction_session_timeout=60s"
CONNECT_TIMEOUT_SECONDS = 10


def session_settings(options: str) -> dict[str, str]:
    """The settings of a libpq ``options`` string (``-c name=value ...``), for drivers that take
    them one by one (asyncpg's ``server_settings``); ValueError for any other form."""
    words = options.split()
    if len(words) % 2 or any(flag != "-c" or "=" not in setting for flag, setting in zip(words[::2], words[1::2])):
        raise ValueError(f"options must be '-c name=value' pairs: {options!r}")
    return dict(setting.split("=", 1) for setting in words[1::2])


@dataclass(frozen=True)
class PartitionPosition:
    next_offset: int
    watermark: int | None
    line_ranges: str = ""  # LineRanges.to_json() of the lines counted up to next_offset


@dataclass(frozen=True)
class Flush:
    """The deltas of the partition's records ``[first_offset, next_offset)``."""

    topology: str
    topic: str
    partition: int
    first_offset: int
    next_offset: int
    last_offset: int
    watermark: int | None
    deltas: PaneDeltas
    line_ranges: str = ""  # the lines counted up to next_offset, committed with it


def _utc(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def _pane_rows(counts: dict, late: dict) -> list[tuple]:
    # sorted, so that concurrent flushes lock shared pane rows in one order (no deadlocks)
    return [(_utc(pane), key, counts[(pane, key)], late.get((pane, key), 0)) for pane, key in sorted(counts)]


class ResultStore:
    """The result store's writer side, over a DB-API connection made by ``connect``.

    :param connect: makes a new DB-API connection (autocommit off) to the result database.
    """

    # each dialect's SQL: create a partition's position if missing, read it, advance it if unmoved
    INSERT_POSITION = ""
    SELECT_POSITION = ""
    ADVANCE_POSITION = ""

    def __init__(self, *, connect: Callable[[], Any]) -> None:
        self.connect = connect
        self._conn: Any = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def reset(self) -> None:
        """Forget the connection after an error (the next call reconnects)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def start_partition(self, *, topology: str, topic: str, partition: int, start_offset: int) -> PartitionPosition:
        """The partition's stored position, creating it at ``start_offset`` if it has none."""
        with self.conn.cursor() as cur:
            cur.execute(self.INSERT_POSITION, (topology, topic, partition, start_offset))
        self.conn.commit()
        position = self.position(topology=topology, topic=topic, partition=partition)
        assert position is not None
        return position

    def position(self, *, topology: str, topic: str, partition: int) -> PartitionPosition | None:
        with self.conn.cursor() as cur:
            cur.execute(self.SELECT_POSITION, (topology, topic, partition))
            row = cur.fetchone()
        self.conn.rollback()
        if row is None:
            return None
        line_ranges = row[2].read() if hasattr(row[2], "read") else row[2]  # an Oracle CLOB is read
        return PartitionPosition(int(row[0]), None if row[1] is None else int(row[1]), line_ranges or "")

    def skip_to_log_start(self, *, topology: str, topic: str, partition: int, log_start: int) -> tuple[int, int] | None:
        """Move the partition's stored offset up to ``log_start`` if it is below (Kafka's retention
        deleted those records before they were counted) and record the skipped range as lost, in one
        transaction; returns the range, or None when the stored offset was not below."""
        conn = self.conn
        try:
            with conn.cursor() as cur:
                cur.execute(self.LOCK_POSITION, (topology, topic, partition))
                row = cur.fetchone()
                if row is None or int(row[0]) >= log_start:
                    conn.rollback()
                    return None
                lost = (int(row[0]), log_start)
                cur.execute(self.SKIP_POSITION, (log_start, topology, topic, partition))
                cur.execute(self.INSERT_LOSS, (topology, topic, partition, *lost))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return lost

    def apply(self, flush: Flush) -> bool:
        """Write ``flush`` if the stored next offset is its first offset; False (nothing written) if not."""
        conn = self.conn
        try:
            with conn.cursor() as cur:
                cur.execute(self.ADVANCE_POSITION, (flush.next_offset, flush.watermark, flush.line_ranges or None,
                                                    flush.topology, flush.topic, flush.partition,
                                                    flush.first_offset))
                if cur.rowcount != 1:
                    conn.rollback()
                    return False
                self._write_deltas(cur, flush)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return True

    def _write_deltas(self, cur: Any, flush: Flush) -> None:
        raise NotImplementedError


class PostgresResultStore(ResultStore):
    """The result store in PostgreSQL (psycopg2); sends ``NOTIFY online_panes`` inside each flush."""

    INSERT_POSITION = (f"INSERT INTO {schema.OFFSETS} (topology, topic, partition, next_offset) "
                       "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING")
    SELECT_POSITION = (f"SELECT next_offset, watermark, line_ranges FROM {schema.OFFSETS} "
                       "WHERE topology = %s AND topic = %s AND partition = %s")
    ADVANCE_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = %s, watermark = %s, line_ranges = %s, "
                        "updated_at = now() WHERE topology = %s AND topic = %s AND partition = %s AND next_offset = %s")
    LOCK_POSITION = (f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = %s AND topic = %s AND partition = %s "
                     "FOR UPDATE")
    SKIP_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = %s, updated_at = now() "
                     "WHERE topology = %s AND topic = %s AND partition = %s")
    INSERT_LOSS = (f"INSERT INTO {schema.RETENTION_LOSSES} (topology, topic, partition, from_offset, to_offset) "
                   "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")

    @classmethod
    def from_dsn(cls, dsn: str) -> PostgresResultStore:
        import psycopg2

        return cls(connect=lambda: psycopg2.connect(dsn))

    def create_schema(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(schema.ddl("postgres"))
        self.conn.commit()

    def _upsert(self, cur: Any, table: str, key: str, rows: Iterable[tuple], topic: str) -> None:
        from psycopg2.extras import execute_values

        rows = [(topic, *row) for row in rows]
        if not rows:
            return
        execute_values(
            cur,
            f"INSERT INTO {table} AS t (topic, pane_start, {key}, records, late_records) VALUES %s "
            f"ON CONFLICT (topic, pane_start, {key}) DO UPDATE SET records = t.records + EXCLUDED.records, "
            "late_records = t.late_records + EXCLUDED.late_records",
            rows,
            page_size=5000,
        )

    def _write_deltas(self, cur: Any, flush: Flush) -> None:
        from psycopg2.extras import execute_values

        deltas, topic = flush.deltas, flush.topic
        self._upsert(cur, schema.PANE_CONFIG_COUNTS, "config_id", _pane_rows(deltas.config_counts, deltas.config_late), topic)
        self._upsert(cur, schema.PANE_HOST_COUNTS, "host", _pane_rows(deltas.host_counts, deltas.host_late), topic)
        panes = sorted(set(deltas.pane_records) | set(deltas.pane_expired))
        if panes:
            execute_values(
                cur,
                f"INSERT INTO {schema.PANE_TOTALS} AS t (topic, pane_start, records, late_records, expired_records) "
                "VALUES %s ON CONFLICT (topic, pane_start) DO UPDATE SET records = t.records + EXCLUDED.records, "
                "late_records = t.late_records + EXCLUDED.late_records, "
                "expired_records = t.expired_records + EXCLUDED.expired_records, updated_at = now()",
                [(topic, _utc(pane), deltas.pane_records.get(pane, 0), deltas.pane_late.get(pane, 0),
                  deltas.pane_expired.get(pane, 0)) for pane in panes],
            )
        if deltas.bad_records:
            execute_values(
                cur,
                f"INSERT INTO {schema.BAD_RECORDS} AS t (topic, minute, reason, records) VALUES %s "
                "ON CONFLICT (topic, minute, reason) DO UPDATE SET records = t.records + EXCLUDED.records",
                [(topic, _utc(minute), reason, count) for (minute, reason), count in sorted(deltas.bad_records.items())],
            )
        if deltas.closes:
            execute_values(
                cur,
                "INSERT INTO online_pane_closes (topology, topic, partition, pane_start, closed_by_offset, "
                "closed_by_time) VALUES %s ON CONFLICT DO NOTHING",
                [(flush.topology, topic, flush.partition, _utc(close.pane_start), close.offset,
                  datetime.fromtimestamp(close.kafka_timestamp_ms / 1000, tz=timezone.utc))
                 for close in deltas.closes],
            )
        cur.execute(
            f"INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records, expired) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (flush.topology, topic, flush.partition, flush.first_offset, flush.last_offset, deltas.records,
             sum(deltas.pane_expired.values())),
        )
        payload = json.dumps({"topic": topic, "partition": flush.partition, "last_offset": flush.last_offset})
        cur.execute("SELECT pg_notify(%s, %s)", (schema.NOTIFY_CHANNEL, payload))


class OracleResultStore(ResultStore):
    """The same recipe for Oracle (python-oracledb, e.g. ``OracleHook().get_conn()``), in ``MERGE``
    statements run with ``executemany``. Oracle has no ``NOTIFY``: a dashboard on Oracle polls
    ``online_flushes``. Never run here: no Oracle server is obtainable on this machine.
    """

    INSERT_POSITION = (f"MERGE INTO {schema.OFFSETS} o USING (SELECT :1 topology, :2 topic, :3 partition, "
                       ":4 next_offset FROM dual) s ON (o.topology = s.topology AND o.topic = s.topic AND "
                       "o.partition = s.partition) WHEN NOT MATCHED THEN INSERT (topology, topic, partition, "
                       "next_offset) VALUES (s.topology, s.topic, s.partition, s.next_offset)")
    SELECT_POSITION = (f"SELECT next_offset, watermark, line_ranges FROM {schema.OFFSETS} "
                       "WHERE topology = :1 AND topic = :2 AND partition = :3")
    ADVANCE_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = :1, watermark = :2, line_ranges = :3, "
                        "updated_at = SYSTIMESTAMP WHERE topology = :4 AND topic = :5 AND partition = :6 "
                        "AND next_offset = :7")
    LOCK_POSITION = (f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = :1 AND topic = :2 AND partition = :3 "
                     "FOR UPDATE")
    SKIP_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = :1, updated_at = SYSTIMESTAMP "
                     "WHERE topology = :2 AND topic = :3 AND partition = :4")
    INSERT_LOSS = (f"INSERT INTO {schema.RETENTION_LOSSES} (topology, topic, partition, from_offset, to_offset) "
                   "VALUES (:1, :2, :3, :4, :5)")

    @staticmethod
    def _merge_counts(table: str, key: str) -> str:
        return (f"MERGE INTO {table} t USING (SELECT :1 topic, :2 pane_start, :3 {key}, :4 records, "
                f":5 late_records FROM dual) s ON (t.topic = s.topic AND t.pane_start = s.pane_start AND "
                f"t.{key} = s.{key}) WHEN MATCHED THEN UPDATE SET t.records = t.records + s.records, "
                "t.late_records = t.late_records + s.late_records WHEN NOT MATCHED THEN INSERT "
                f"(topic, pane_start, {key}, records, late_records) VALUES (s.topic, s.pane_start, s.{key}, "
                "s.records, s.late_records)")

    def _write_deltas(self, cur: Any, flush: Flush) -> None:
        deltas, topic = flush.deltas, flush.topic
        for table, key, counts, late in (
            (schema.PANE_CONFIG_COUNTS, "config_id", deltas.config_counts, deltas.config_late),
            (schema.PANE_HOST_COUNTS, "host", deltas.host_counts, deltas.host_late),
        ):
            rows = [(topic, *row) for row in _pane_rows(counts, late)]
            if rows:
                cur.executemany(self._merge_counts(table, key), rows)
        panes = sorted(set(deltas.pane_records) | set(deltas.pane_expired))
        if panes:
            cur.executemany(
                f"MERGE INTO {schema.PANE_TOTALS} t USING (SELECT :1 topic, :2 pane_start, :3 records, "
                ":4 late_records, :5 expired_records FROM dual) s ON (t.topic = s.topic AND t.pane_start = "
                "s.pane_start) WHEN MATCHED THEN UPDATE SET t.records = t.records + s.records, "
                "t.late_records = t.late_records + s.late_records, t.expired_records = t.expired_records + "
                "s.expired_records, t.updated_at = SYSTIMESTAMP WHEN NOT MATCHED THEN INSERT (topic, pane_start, "
                "records, late_records, expired_records) VALUES (s.topic, s.pane_start, s.records, "
                "s.late_records, s.expired_records)",
                [(topic, _utc(pane), deltas.pane_records.get(pane, 0), deltas.pane_late.get(pane, 0),
                  deltas.pane_expired.get(pane, 0)) for pane in panes],
            )
        if deltas.bad_records:
            cur.executemany(
                f"MERGE INTO {schema.BAD_RECORDS} t USING (SELECT :1 topic, :2 minute, :3 reason, :4 records "
                "FROM dual) s ON (t.topic = s.topic AND t.minute = s.minute AND t.reason = s.reason) "
                "WHEN MATCHED THEN UPDATE SET t.records = t.records + s.records WHEN NOT MATCHED THEN "
                "INSERT (topic, minute, reason, records) VALUES (s.topic, s.minute, s.reason, s.records)",
                [(topic, _utc(minute), reason, count) for (minute, reason), count in sorted(deltas.bad_records.items())],
            )
        if deltas.closes:
            cur.executemany(
                "MERGE INTO online_pane_closes t USING (SELECT :1 topology, :2 topic, :3 partition, "
                ":4 pane_start, :5 closed_by_offset, :6 closed_by_time FROM dual) s ON (t.topology = s.topology "
                "AND t.topic = s.topic AND t.partition = s.partition AND t.pane_start = s.pane_start) "
                "WHEN NOT MATCHED THEN INSERT (topology, topic, partition, pane_start, closed_by_offset, "
                "closed_by_time) VALUES (s.topology, s.topic, s.partition, s.pane_start, s.closed_by_offset, "
                "s.closed_by_time)",
                [(flush.topology, topic, flush.partition, _utc(close.pane_start), close.offset,
                  datetime.fromtimestamp(close.kafka_timestamp_ms / 1000, tz=timezone.utc))
                 for close in deltas.closes],
            )
        cur.execute(
            f"INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records, expired) "
            "VALUES (:1, :2, :3, :4, :5, :6, :7)",
            (flush.topology, topic, flush.partition, flush.first_offset, flush.last_offset, deltas.records,
             sum(deltas.pane_expired.values())),
        )
