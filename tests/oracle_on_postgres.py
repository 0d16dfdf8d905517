"""A DB-API connection that takes the Oracle result store's SQL and runs it on PostgreSQL.

No Oracle server can be obtained on these machines. What this checks is the store's *logic* in its
Oracle form (its MERGEs, the offset guard, the retry after a lost race for a new key) against a real
database with real concurrency; it is not Oracle and proves nothing about Oracle's own behaviour
beyond what the two share. Each statement is translated once by sqlglot (Oracle -> PostgreSQL: named
binds become ``%(name)s``, ``VARCHAR2``/``NUMBER``/``CLOB`` PostgreSQL types), and the few Oracle
built-ins the statements use are supplied in the test's schema (``dual``, ``SYSTIMESTAMP``,
``NUMTODSINTERVAL``). A duplicate key comes back as python-oracledb reports one: an
``IntegrityError`` whose first argument carries the ORA number (``code`` 1, ORA-00001).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import psycopg2
import psycopg2.errors
import sqlglot

# Oracle's built-ins that the store's statements use, in PostgreSQL
ORACLE_BUILTINS = """
CREATE VIEW dual AS SELECT 'X'::varchar AS dummy;
CREATE FUNCTION systimestamp() RETURNS timestamptz LANGUAGE sql STABLE AS 'SELECT clock_timestamp()';
CREATE FUNCTION numtodsinterval(n numeric, unit text) RETURNS interval LANGUAGE sql IMMUTABLE
    AS 'SELECT n * (''1 '' || unit)::interval';
"""


class OracleIntegrityError(Exception):
    """What python-oracledb raises for a duplicate key: ``args[0].code`` is the ORA number."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(SimpleNamespace(code=1, message=f"ORA-00001: unique constraint violated ({cause})"))


@functools.lru_cache(maxsize=None)
def to_postgres(sql: str) -> str:
    return sqlglot.transpile(sql, read="oracle", write="postgres", error_level=sqlglot.ErrorLevel.RAISE)[0]


class _Cursor:
    def __init__(self, cursor) -> None:
        self._cursor = cursor

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._cursor.close()

    def execute(self, sql: str, params=None) -> None:
        try:
            self._cursor.execute(to_postgres(sql), params)
        except psycopg2.errors.UniqueViolation as err:
            raise OracleIntegrityError(err) from err

    def executemany(self, sql: str, rows) -> None:
        for row in rows:
            self.execute(sql, row)

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class OracleOnPostgres:
    """One connection (autocommit off) in PostgreSQL schema ``schema``."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._conn = psycopg2.connect(dsn, options=f"-c search_path={schema}")

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()


def make_schema(dsn: str, schema: str) -> None:
    """A schema of the test's own with Oracle's built-ins in it."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
        cur.execute(f'SET search_path TO "{schema}"')
        cur.execute(ORACLE_BUILTINS)
    conn.close()


def drop_schema(dsn: str, schema: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()
