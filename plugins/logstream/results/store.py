"""Writing the online counts exactly once: a flush's pane deltas and its partition's next offset go
in one transaction, and only if the stored next offset is the flush's first offset.

That guard is the whole exactly-once argument (``plugins/logstream/storm/DESIGN.md``): a replayed
offset range finds the stored offset already past it and changes nothing; a second copy of a writer
waits on the offset row's lock, then finds it moved. Both dialects share this shape; each gives its
own SQL, with named binds. :class:`PostgresResultStore` runs on the stack; :class:`OracleResultStore`
is the same recipe in ``MERGE`` statements, written against Oracle's documentation. No Oracle server
can be obtained here: its statements are checked against Oracle's grammar (sqlglot's Oracle dialect)
and its logic is run against PostgreSQL through a DB-API connection that translates each statement
(``tests/oracle_on_postgres.py``), which is not Oracle. :func:`open_store` picks the dialect from the
address the components get (``postgresql://`` or a libpq DSN; ``oracle://``).

Two writers may insert the same new pane key at the same moment (two partitions' flushes of one
pane): PostgreSQL's ``ON CONFLICT`` settles that inside the statement; Oracle's ``MERGE`` does not
(the second insert fails with ORA-00001), so :meth:`ResultStore.apply` runs a flush again whose
transaction failed on a unique key, from its offset guard on (the failed transaction left nothing).
"""

from __future__ import annotations

import hashlib
import json
import time
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
# a flush whose transaction lost a race for a new key is run again this many times at most
UNIQUE_KEY_RETRIES = 5


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


# the growing tables: the retention setting of each, the column its rows are dated by, and whether the
# newest row of each (topology, topic, partition) is kept whatever its age (the trail a reader needs to
# tell which topology counts a topic, and where it stands)
RETAINED_TABLES = (
    (schema.FLUSHES, "flushes_days", "committed_at", True),
    (schema.PANE_CLOSES, "pane_closes_days", "committed_at", True),
    (schema.PANE_TOTALS, "panes_days", "pane_start", False),
    (schema.PANE_CONFIG_COUNTS, "panes_days", "pane_start", False),
    (schema.PANE_HOST_COUNTS, "panes_days", "pane_start", False),
    (schema.BAD_RECORDS, "bad_records_days", "minute", False),
)
RETENTION_BATCH = 50_000


class ResultStore:
    """The result store's writer side, over a DB-API connection made by ``connect``.

    :param connect: makes a new DB-API connection (autocommit off) to the result database.
    """

    # each dialect's SQL: create a partition's position if missing, read it, advance it if unmoved,
    # lock it, move it past a retention loss and record the loss; the health check's readings
    INSERT_POSITION = SELECT_POSITION = ADVANCE_POSITION = LOCK_POSITION = SKIP_POSITION = INSERT_LOSS = ""
    STORED_OFFSETS = RECENT_LOSSES = RECENT_FLUSHES = ""

    def __init__(self, *, connect: Callable[[], Any]) -> None:
        self.connect = connect
        self._conn: Any = None
        self.lost_races = 0  # flushes run again after losing a race for a new key

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

    # what the dialect's driver raises, for a caller that handles a database failure (reconnect, replay)
    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        raise NotImplementedError

    def is_unique_violation(self, err: BaseException) -> bool:
        """Whether ``err`` is the driver's "duplicate key" (a lost race for a new row)."""
        return False

    def start_partition(self, *, topology: str, topic: str, partition: int, start_offset: int) -> PartitionPosition:
        """The partition's stored position, creating it at ``start_offset`` if it has none."""
        with self.conn.cursor() as cur:
            cur.execute(self.INSERT_POSITION, {"topology": topology, "topic": topic, "partition": partition,
                                               "next_offset": start_offset})
        self.conn.commit()
        position = self.position(topology=topology, topic=topic, partition=partition)
        assert position is not None
        return position

    def position(self, *, topology: str, topic: str, partition: int) -> PartitionPosition | None:
        with self.conn.cursor() as cur:
            cur.execute(self.SELECT_POSITION, {"topology": topology, "topic": topic, "partition": partition})
            row = cur.fetchone()
        self.conn.rollback()
        if row is None:
            return None
        line_ranges = row[2].read() if hasattr(row[2], "read") else row[2]  # an Oracle CLOB is read
        return PartitionPosition(int(row[0]), None if row[1] is None else int(row[1]), line_ranges or "")

    def _rows(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        self.conn.rollback()
        return [tuple(row) for row in rows]

    def stored_offsets(self, *, topology: str, topic: str) -> dict[int, int]:
        """Partition -> stored next offset of ``topology`` on ``topic``."""
        return {int(partition): int(offset)
                for partition, offset in self._rows(self.STORED_OFFSETS, {"topology": topology, "topic": topic})}

    def recent_losses(self, *, topology: str, topic: str, seconds: float) -> list[tuple[int, int, int]]:
        """(partition, from offset, to offset) of the ranges lost to retention noticed in the last ``seconds``."""
        return [(int(p), int(a), int(b)) for p, a, b in self._rows(
            self.RECENT_LOSSES, {"topology": topology, "topic": topic, "seconds": seconds})]

    def recent_flushes(self, *, topology: str, topic: str, seconds: float) -> dict[int, tuple[int, int]]:
        """Partition -> (records, expired records) committed in the last ``seconds``."""
        return {int(p): (int(records), int(expired)) for p, records, expired in self._rows(
            self.RECENT_FLUSHES, {"topology": topology, "topic": topic, "seconds": seconds})}

    def delete_old_rows(self, table: str, column: str, seconds: float, *, keep_newest: bool,
                        batch: int = RETENTION_BATCH, say: Callable[[str], None] = lambda _: None) -> int:
        """Delete ``table``'s rows dated (``column``) more than ``seconds`` ago, ``batch`` rows per
        transaction (no long lock; a writer goes on meanwhile); ``keep_newest``: never a partition's
        newest row. Returns how many went. A second copy running at once deletes what the first has
        not yet: rows go once, none that should stay."""
        groups: list[dict[str, Any]] = [{}]
        if keep_newest:
            groups = [{"topology": topology, "topic": topic, "partition": partition, "newest": newest}
                      for topology, topic, partition, newest in self._rows(self._newest_per_partition(table, column), {})]
        statement = self._delete_old(table, column, keep_newest)
        deleted, began = 0, time.monotonic()
        for group in groups:
            while True:
                with self.conn.cursor() as cur:
                    cur.execute(statement, {**group, "seconds": seconds, "batch": batch})
                    count = cur.rowcount
                self.conn.commit()
                deleted += count
                if not count:  # (not "fewer than a batch": a copy deleting beside it may have taken some)
                    break
                say(f"{table}: {deleted:,} rows deleted ({deleted / max(time.monotonic() - began, 1e-3):,.0f}/s)")
        return deleted

    def apply_retention(self, retention: Any, *, batch: int = RETENTION_BATCH,
                        say: Callable[[str], None] = lambda _: None) -> dict[str, int]:
        """Every growing table's rows older than ``retention`` (a ``ResultRetention``) deleted;
        table -> rows deleted (tables kept for ever are left out)."""
        deleted = {}
        for table, setting, column, keep_newest in RETAINED_TABLES:
            days = getattr(retention, setting)
            if days is None:
                continue
            deleted[table] = self.delete_old_rows(table, column, days * 86400, keep_newest=keep_newest, batch=batch, say=say)
            say(f"{table}: rows older than {days:g} days deleted: {deleted[table]:,}")
            if deleted[table]:
                self._tidy(table)
        return deleted

    def _tidy(self, table: str) -> None:
        """After a deletion: what the dialect needs so reads skip the deleted rows at once."""

    @staticmethod
    def _newest_per_partition(table: str, column: str) -> str:
        return f"SELECT topology, topic, partition, max({column}) FROM {table} GROUP BY topology, topic, partition"

    def _delete_old(self, table: str, column: str, keep_newest: bool) -> str:
        raise NotImplementedError

    def skip_to_log_start(self, *, topology: str, topic: str, partition: int, log_start: int) -> tuple[int, int] | None:
        """Move the partition's stored offset up to ``log_start`` if it is below (Kafka's retention
        deleted those records before they were counted) and record the skipped range as lost, in one
        transaction; returns the range, or None when the stored offset was not below."""
        conn = self.conn
        try:
            with conn.cursor() as cur:
                key = {"topology": topology, "topic": topic, "partition": partition}
                cur.execute(self.LOCK_POSITION, key)
                row = cur.fetchone()
                if row is None or int(row[0]) >= log_start:
                    conn.rollback()
                    return None
                lost = (int(row[0]), log_start)
                cur.execute(self.SKIP_POSITION, {**key, "next_offset": log_start})
                cur.execute(self.INSERT_LOSS, {**key, "from_offset": lost[0], "to_offset": lost[1]})
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return lost

    def apply(self, flush: Flush) -> bool:
        """Write ``flush`` if the stored next offset is its first offset; False (nothing written) if not.
        A transaction that failed on a unique key (another writer inserted the same new row first) is
        rolled back whole and run again."""
        for attempt in range(1, UNIQUE_KEY_RETRIES + 1):
            try:
                return self._apply_once(flush)
            except Exception as err:  # noqa: BLE001 (re-raised unless it is the lost race)
                if attempt == UNIQUE_KEY_RETRIES or not self.is_unique_violation(err):
                    raise
                self.lost_races += 1
        raise AssertionError("unreachable")

    def _apply_once(self, flush: Flush) -> bool:
        conn = self.conn
        try:
            with conn.cursor() as cur:
                cur.execute(self.ADVANCE_POSITION, {
                    "next_offset": flush.next_offset, "watermark": flush.watermark,
                    "line_ranges": flush.line_ranges or None, "topology": flush.topology, "topic": flush.topic,
                    "partition": flush.partition, "first_offset": flush.first_offset})
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
                       "VALUES (%(topology)s, %(topic)s, %(partition)s, %(next_offset)s) ON CONFLICT DO NOTHING")
    SELECT_POSITION = (f"SELECT next_offset, watermark, line_ranges FROM {schema.OFFSETS} "
                       "WHERE topology = %(topology)s AND topic = %(topic)s AND partition = %(partition)s")
    ADVANCE_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = %(next_offset)s, watermark = %(watermark)s, "
                        "line_ranges = %(line_ranges)s, updated_at = now() WHERE topology = %(topology)s "
                        "AND topic = %(topic)s AND partition = %(partition)s AND next_offset = %(first_offset)s")
    LOCK_POSITION = (f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = %(topology)s AND topic = %(topic)s "
                     "AND partition = %(partition)s FOR UPDATE")
    SKIP_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = %(next_offset)s, updated_at = now() "
                     "WHERE topology = %(topology)s AND topic = %(topic)s AND partition = %(partition)s")
    INSERT_LOSS = (f"INSERT INTO {schema.RETENTION_LOSSES} (topology, topic, partition, from_offset, to_offset) "
                   "VALUES (%(topology)s, %(topic)s, %(partition)s, %(from_offset)s, %(to_offset)s) ON CONFLICT DO NOTHING")

    STORED_OFFSETS = (f"SELECT partition, next_offset FROM {schema.OFFSETS} "
                      "WHERE topology = %(topology)s AND topic = %(topic)s")
    RECENT_LOSSES = (f"SELECT partition, from_offset, to_offset FROM {schema.RETENTION_LOSSES} WHERE topology = "
                     "%(topology)s AND topic = %(topic)s AND noticed_at > now() - make_interval(secs => %(seconds)s) "
                     "ORDER BY partition, from_offset")
    RECENT_FLUSHES = (f"SELECT partition, sum(records), coalesce(sum(expired), 0) FROM {schema.FLUSHES} "
                      "WHERE topology = %(topology)s AND topic = %(topic)s "
                      "AND committed_at > now() - make_interval(secs => %(seconds)s) GROUP BY partition")

    def _delete_old(self, table: str, column: str, keep_newest: bool) -> str:
        partition = (" AND topology = %(topology)s AND topic = %(topic)s AND partition = %(partition)s "
                     f"AND {column} < %(newest)s") if keep_newest else ""
        return (f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE "
                f"{column} < now() - make_interval(secs => %(seconds)s){partition} LIMIT %(batch)s))")

    def _tidy(self, table: str) -> None:
        # the deleted rows stay in the indexes until a vacuum: the page's walk down online_flushes'
        # index from its oldest entry read through 6 M of them (13 ms -> 107 ms a read) until then
        self.conn.commit()
        self.conn.autocommit = True
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            self.conn.autocommit = False

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        import psycopg2

        return (psycopg2.Error,)

    def is_unique_violation(self, err: BaseException) -> bool:
        return getattr(err, "pgcode", None) == "23505"

    @classmethod
    def from_dsn(cls, dsn: str) -> PostgresResultStore:
        import psycopg2

        return cls(connect=lambda: psycopg2.connect(dsn))

    def create_schema(self) -> None:
        ensure_schema(self.conn)

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
            "VALUES (%(topology)s, %(topic)s, %(partition)s, %(first_offset)s, %(last_offset)s, %(records)s, "
            "%(expired)s)", _flush_row(flush),
        )
        payload = json.dumps({"topic": topic, "partition": flush.partition, "last_offset": flush.last_offset})
        cur.execute("SELECT pg_notify(%s, %s)", (schema.NOTIFY_CHANNEL, payload))


class OracleResultStore(ResultStore):
    """The same recipe for Oracle (python-oracledb, e.g. ``OracleHook().get_conn()``), in ``MERGE``
    statements with named binds, run with ``executemany``. Oracle has no ``NOTIFY``: a dashboard on
    Oracle polls ``online_flushes``. Never run against an Oracle server (none is obtainable on this
    machine): see the module's docstring for what is checked instead.
    """

    INSERT_POSITION = (f"MERGE INTO {schema.OFFSETS} o USING (SELECT :topology topology, :topic topic, "
                       ":partition partition, :next_offset next_offset FROM dual) s ON (o.topology = s.topology "
                       "AND o.topic = s.topic AND o.partition = s.partition) WHEN NOT MATCHED THEN INSERT "
                       "(topology, topic, partition, next_offset) VALUES (s.topology, s.topic, s.partition, "
                       "s.next_offset)")
    SELECT_POSITION = (f"SELECT next_offset, watermark, line_ranges FROM {schema.OFFSETS} "
                       "WHERE topology = :topology AND topic = :topic AND partition = :partition")
    ADVANCE_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = :next_offset, watermark = :watermark, "
                        "line_ranges = :line_ranges, updated_at = SYSTIMESTAMP WHERE topology = :topology "
                        "AND topic = :topic AND partition = :partition AND next_offset = :first_offset")
    LOCK_POSITION = (f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = :topology AND topic = :topic "
                     "AND partition = :partition FOR UPDATE")
    SKIP_POSITION = (f"UPDATE {schema.OFFSETS} SET next_offset = :next_offset, updated_at = SYSTIMESTAMP "
                     "WHERE topology = :topology AND topic = :topic AND partition = :partition")
    INSERT_LOSS = (f"INSERT INTO {schema.RETENTION_LOSSES} (topology, topic, partition, from_offset, to_offset) "
                   "VALUES (:topology, :topic, :partition, :from_offset, :to_offset)")
    STORED_OFFSETS = (f"SELECT partition, next_offset FROM {schema.OFFSETS} "
                      "WHERE topology = :topology AND topic = :topic")
    RECENT_LOSSES = (f"SELECT partition, from_offset, to_offset FROM {schema.RETENTION_LOSSES} WHERE topology = "
                     ":topology AND topic = :topic AND noticed_at > SYSTIMESTAMP - NUMTODSINTERVAL(:seconds, 'SECOND') "
                     "ORDER BY partition, from_offset")
    RECENT_FLUSHES = (f"SELECT partition, SUM(records), COALESCE(SUM(expired), 0) FROM {schema.FLUSHES} "
                      "WHERE topology = :topology AND topic = :topic "
                      "AND committed_at > SYSTIMESTAMP - NUMTODSINTERVAL(:seconds, 'SECOND') GROUP BY partition")
    INSERT_FLUSH = (f"INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records, "
                    "expired) VALUES (:topology, :topic, :partition, :first_offset, :last_offset, :records, :expired)")
    MERGE_TOTALS = (f"MERGE INTO {schema.PANE_TOTALS} t USING (SELECT :topic topic, :pane_start pane_start, "
                    ":records records, :late_records late_records, :expired_records expired_records FROM dual) s "
                    "ON (t.topic = s.topic AND t.pane_start = s.pane_start) WHEN MATCHED THEN UPDATE SET "
                    "t.records = t.records + s.records, t.late_records = t.late_records + s.late_records, "
                    "t.expired_records = t.expired_records + s.expired_records, t.updated_at = SYSTIMESTAMP "
                    "WHEN NOT MATCHED THEN INSERT (topic, pane_start, records, late_records, expired_records) "
                    "VALUES (s.topic, s.pane_start, s.records, s.late_records, s.expired_records)")
    MERGE_BAD = (f"MERGE INTO {schema.BAD_RECORDS} t USING (SELECT :topic topic, :minute minute, :reason reason, "
                 ":records records FROM dual) s ON (t.topic = s.topic AND t.minute = s.minute AND "
                 "t.reason = s.reason) WHEN MATCHED THEN UPDATE SET t.records = t.records + s.records "
                 "WHEN NOT MATCHED THEN INSERT (topic, minute, reason, records) "
                 "VALUES (s.topic, s.minute, s.reason, s.records)")
    MERGE_CLOSES = ("MERGE INTO online_pane_closes t USING (SELECT :topology topology, :topic topic, "
                    ":partition partition, :pane_start pane_start, :closed_by_offset closed_by_offset, "
                    ":closed_by_time closed_by_time FROM dual) s ON (t.topology = s.topology AND t.topic = s.topic "
                    "AND t.partition = s.partition AND t.pane_start = s.pane_start) WHEN NOT MATCHED THEN INSERT "
                    "(topology, topic, partition, pane_start, closed_by_offset, closed_by_time) VALUES "
                    "(s.topology, s.topic, s.partition, s.pane_start, s.closed_by_offset, s.closed_by_time)")

    @classmethod
    def from_url(cls, url: str) -> OracleResultStore:
        """``oracle://user:password@host:port/service_name`` (python-oracledb's thin mode: no client libraries)."""
        from urllib.parse import unquote, urlsplit

        import oracledb

        parts = urlsplit(url)
        dsn = f"{parts.hostname}:{parts.port or 1521}/{parts.path.lstrip('/')}"
        return cls(connect=lambda: oracledb.connect(user=unquote(parts.username or ""),
                                                    password=unquote(parts.password or ""), dsn=dsn))

    def _delete_old(self, table: str, column: str, keep_newest: bool) -> str:
        partition = (" AND topology = :topology AND topic = :topic AND partition = :partition "
                     f"AND {column} < :newest") if keep_newest else ""
        return (f"DELETE FROM {table} WHERE {column} < SYSTIMESTAMP - NUMTODSINTERVAL(:seconds, 'SECOND'){partition} "
                "AND ROWNUM <= :batch")

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        import oracledb

        return (oracledb.Error,)

    def is_unique_violation(self, err: BaseException) -> bool:
        """ORA-00001: python-oracledb raises IntegrityError whose first argument carries the ORA number."""
        return getattr(err.args[0] if err.args else None, "code", None) == 1

    def create_schema(self) -> None:
        """``include/sql/results/oracle.sql``, one statement at a time (the driver takes one per call);
        a table or view that exists already (ORA-00955) is kept."""
        with self.conn.cursor() as cur:
            for statement in oracle_statements(schema.ddl("oracle")):
                try:
                    cur.execute(statement)
                except Exception as err:  # noqa: BLE001 (only "name is already used" is expected)
                    if getattr(err.args[0] if err.args else None, "code", None) != 955:
                        raise
        self.conn.commit()

    @staticmethod
    def _merge_counts(table: str, key: str) -> str:
        return (f"MERGE INTO {table} t USING (SELECT :topic topic, :pane_start pane_start, :key_value {key}, "
                f":records records, :late_records late_records FROM dual) s ON (t.topic = s.topic AND "
                f"t.pane_start = s.pane_start AND t.{key} = s.{key}) WHEN MATCHED THEN UPDATE SET "
                "t.records = t.records + s.records, t.late_records = t.late_records + s.late_records "
                f"WHEN NOT MATCHED THEN INSERT (topic, pane_start, {key}, records, late_records) VALUES "
                f"(s.topic, s.pane_start, s.{key}, s.records, s.late_records)")

    def statements(self) -> list[str]:
        """Every statement this store runs (the grammar check reads them)."""
        return [self.INSERT_POSITION, self.SELECT_POSITION, self.ADVANCE_POSITION, self.LOCK_POSITION,
                self.SKIP_POSITION, self.INSERT_LOSS, self.INSERT_FLUSH, self.STORED_OFFSETS, self.RECENT_LOSSES,
                self.RECENT_FLUSHES, self.MERGE_TOTALS, self.MERGE_BAD,
                self.MERGE_CLOSES, self._merge_counts(schema.PANE_CONFIG_COUNTS, "config_id"),
                self._merge_counts(schema.PANE_HOST_COUNTS, "host"),
                *(self._delete_old(table, column, keep) for table, _, column, keep in RETAINED_TABLES),
                *(self._newest_per_partition(table, column) for table, _, column, keep in RETAINED_TABLES if keep)]

    def _write_deltas(self, cur: Any, flush: Flush) -> None:
        deltas, topic = flush.deltas, flush.topic
        for table, key, counts, late in (
            (schema.PANE_CONFIG_COUNTS, "config_id", deltas.config_counts, deltas.config_late),
            (schema.PANE_HOST_COUNTS, "host", deltas.host_counts, deltas.host_late),
        ):
            rows = [{"topic": topic, "pane_start": pane_start, "key_value": value, "records": records,
                     "late_records": late_records} for pane_start, value, records, late_records in _pane_rows(counts, late)]
            if rows:
                cur.executemany(self._merge_counts(table, key), rows)
        panes = sorted(set(deltas.pane_records) | set(deltas.pane_expired))
        if panes:
            cur.executemany(self.MERGE_TOTALS, [
                {"topic": topic, "pane_start": _utc(pane), "records": deltas.pane_records.get(pane, 0),
                 "late_records": deltas.pane_late.get(pane, 0), "expired_records": deltas.pane_expired.get(pane, 0)}
                for pane in panes])
        if deltas.bad_records:
            cur.executemany(self.MERGE_BAD, [
                {"topic": topic, "minute": _utc(minute), "reason": reason, "records": count}
                for (minute, reason), count in sorted(deltas.bad_records.items())])
        if deltas.closes:
            cur.executemany(self.MERGE_CLOSES, [
                {"topology": flush.topology, "topic": topic, "partition": flush.partition,
                 "pane_start": _utc(close.pane_start), "closed_by_offset": close.offset,
                 "closed_by_time": datetime.fromtimestamp(close.kafka_timestamp_ms / 1000, tz=timezone.utc)}
                for close in deltas.closes])
        cur.execute(self.INSERT_FLUSH, _flush_row(flush))


# a migration waits this long for a lock before it gives up (and tries again, up to SCHEMA_ATTEMPTS)
SCHEMA_LOCK_TIMEOUT = "20s"
SCHEMA_ATTEMPTS = 5


def ensure_schema(conn: Any, *, say: Callable[[str], None] = lambda _: None) -> bool:
    """Run ``include/sql/results/postgres.sql`` on ``conn`` (psycopg2) unless this version of it (its
    sha256, in ``online_schema_versions``) ran already; True when it ran. The file's ALTERs take ACCESS
    EXCLUSIVE locks table after table: run on every deploy and reconcile they deadlocked with readers
    that hold several tables in one transaction (the dashboard's snapshot). A migration that still
    meets a deadlock or waits longer than ``SCHEMA_LOCK_TIMEOUT`` is rolled back and run again."""
    import psycopg2.errors

    script = schema.ddl("postgres")
    digest = hashlib.sha256(script.encode()).hexdigest()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM online_schema_versions WHERE digest = %s", (digest,))
            current = cur.fetchone() is not None
    except psycopg2.errors.UndefinedTable:
        current = False
    conn.rollback()
    if current:
        return False
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            with conn.cursor() as cur:
                cur.execute(f"SET LOCAL lock_timeout = '{SCHEMA_LOCK_TIMEOUT}'")
                cur.execute(script)
                cur.execute("INSERT INTO online_schema_versions (digest) VALUES (%s) ON CONFLICT DO NOTHING", (digest,))
            conn.commit()
            return True
        except (psycopg2.errors.DeadlockDetected, psycopg2.errors.LockNotAvailable) as err:
            conn.rollback()
            if attempt == SCHEMA_ATTEMPTS:
                raise
            say(f"result store schema: {type(err).__name__} on attempt {attempt}; again in {attempt} s")
            time.sleep(attempt)
    raise AssertionError("unreachable")


def _flush_row(flush: Flush) -> dict[str, Any]:
    return {"topology": flush.topology, "topic": flush.topic, "partition": flush.partition,
            "first_offset": flush.first_offset, "last_offset": flush.last_offset, "records": flush.deltas.records,
            "expired": sum(flush.deltas.pane_expired.values())}


def oracle_statements(script: str) -> list[str]:
    """The statements of an Oracle DDL script: ``;``-terminated, ``--`` comments dropped."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def open_store(address: str) -> ResultStore:
    """The result store at ``address``, by its kind: ``oracle://user:password@host:port/service`` is
    Oracle; a ``postgresql://`` URI or a libpq DSN (``host=... dbname=...``) is PostgreSQL."""
    if address.startswith("oracle://"):
        return OracleResultStore.from_url(address)
    if address.startswith(("postgresql://", "postgres://")) or "=" in address:
        return PostgresResultStore.from_dsn(address)
    raise ValueError(f"not a result store address (oracle://... or a PostgreSQL URI/DSN): {address[:40]!r}...")
