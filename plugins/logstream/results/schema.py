"""The result store's tables, in one place for the writer (the Storm topology) and the readers
(the dashboard, the reconciliation). The DDL itself is ``include/sql/results/<dialect>.sql``.

Every committed flush sends ``NOTIFY online_panes`` (PostgreSQL) from inside its transaction, so a
listener hears of new counts exactly when they become visible; the payload is JSON
``{"topic": ..., "partition": ..., "last_offset": ...}``.
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "results"

PANE_CONFIG_COUNTS = "online_pane_config_counts"
PANE_HOST_COUNTS = "online_pane_host_counts"
PANE_TOTALS = "online_pane_totals"
BAD_RECORDS = "online_bad_records"
OFFSETS = "online_offsets"
FLUSHES = "online_flushes"
RETENTION_LOSSES = "online_retention_losses"
PANE_CLOSES = "online_pane_closes"
NOTIFY_CHANNEL = "online_panes"

PANE_SECONDS = 60


def ddl(dialect: str = "postgres") -> str:
    """The statements that create the result store's tables (idempotent)."""
    path = SQL_DIR / f"{dialect}.sql"
    if not path.exists():
        raise ValueError(f"no result-store schema for dialect {dialect!r} (looked for {path})")
    return path.read_text()
