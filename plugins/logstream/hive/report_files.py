"""The reports for people: per topic and hour, one CSV per report and a small PNG chart.

    <reports_dir>/<topic>/<YYYY-MM-DD>/<HH>/<report>.csv
    <reports_dir>/<topic>/<YYYY-MM-DD>/<HH>/records_per_config.png

Files are written under a temporary name and renamed, so a reader never sees half a file and a
restatement replaces the hour's files (their ``version`` column says which one they are).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from logstream.log_hours.hours import dt_and_hour, shift  # noqa: E402
from logstream.hive.hql import render  # noqa: E402
from logstream.hive.reports import REPORTS  # noqa: E402

CHART_NAME = "records_per_config.png"


def hour_folder(reports_dir: Path | str, topic: str, dt: str, hour: str) -> Path:
    return Path(reports_dir) / topic / dt / hour


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([column.strip("`") for column in columns])
        writer.writerows(rows)
    os.replace(partial, path)
    return path


def write_trend_chart(path: Path, title: str, hour_keys: Sequence[str], series: Mapping[int, Mapping[str, int]]) -> Path:
    """A line per Configuration ID: records per hour over ``hour_keys`` (missing hours count 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=80)
    try:
        positions = range(len(hour_keys))
        for config_id, per_hour in series.items():
            axes.plot(positions, [per_hour.get(key, 0) for key in hour_keys], marker=".", label=str(config_id))
        step = max(len(hour_keys) // 8, 1)
        axes.set_xticks(list(positions)[::step], [key[5:].replace("T", " ") + "h" for key in hour_keys[::step]], fontsize=7)
        axes.set_ylabel("records")
        axes.set_title(title, fontsize=9)
        if series:
            axes.legend(title="config", fontsize=7, title_fontsize=7, loc="upper left")
        figure.tight_layout()
        partial = path.with_name(f".{path.name}.partial")
        figure.savefig(partial, format="png")
        os.replace(partial, path)
    finally:
        plt.close(figure)
    return path


def export_hour(
    query, *, database: str, topic: str, key: str, reports_dir: Path | str, trend_hours: int = 24, top_configs: int = 5
) -> list[Path]:
    """Write the hour's CSV files and chart from the report tables; ``query(sql)`` returns rows."""
    dt, hour = dt_and_hour(key)
    folder = hour_folder(reports_dir, topic, dt, hour)
    written = []
    rows_by_report = {}
    for report in REPORTS:
        rows_by_report[report.name] = query(render(
            "select_report.hql", database=database, table=report.table, columns=report.columns,
            topic=topic, dt=dt, hour=hour, order_by=report.order_by,
        ))
        written.append(write_csv(folder / f"{report.name}.csv", report.columns, rows_by_report[report.name]))
    top = [row[0] for row in rows_by_report["records_per_config"][:top_configs]]
    keys = [shift(key, -back) for back in reversed(range(trend_hours))]
    series: dict[int, dict[str, int]] = {config_id: {} for config_id in top}
    if top:
        first_dt, first_hour = dt_and_hour(keys[0])
        for hour_key, config_id, records in query(render(
            "config_trend.hql", database=database, topic=topic, config_ids=top,
            first_dt=first_dt, first_hour=first_hour, last_dt=dt, last_hour=hour,
        )):
            series[config_id][hour_key] = records
    title = f"{topic}: records per hour of the top {len(top)} configurations of {key}"
    written.append(write_trend_chart(folder / CHART_NAME, title, keys, series))
    return written
