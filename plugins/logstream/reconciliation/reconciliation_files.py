"""An hour's reconciliation for people, beside the hour's reports:

    <reports_dir>/<topic>/<YYYY-MM-DD>/<HH>/reconciliation.csv   every key, online and offline
    <reports_dir>/<topic>/<YYYY-MM-DD>/<HH>/reconciliation.png   records per Configuration ID, both sides
"""

from __future__ import annotations

import os
from pathlib import Path

from logstream.hive.report_files import hour_folder, plt, write_csv
from logstream.log_hours.hours import dt_and_hour
from logstream.reconciliation.online_offline import COMPARISON_COLUMNS, HourReconciliation, comparison_rows


def write_reconciliation_files(reports_dir: Path | str, result: HourReconciliation) -> list[Path]:
    folder = hour_folder(reports_dir, result.topic, *dt_and_hour(result.hour))
    written = [write_csv(folder / "reconciliation.csv", COMPARISON_COLUMNS, comparison_rows(result))]
    configs = sorted(set(result.online.by_config) | set(result.offline.by_config))
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=80)
    try:
        positions = range(len(configs))
        axes.bar([p - 0.2 for p in positions], [result.online.by_config.get(c, 0) for c in configs], 0.4, label="online (Storm)")
        axes.bar([p + 0.2 for p in positions], [result.offline.by_config.get(c, 0) for c in configs], 0.4, label="offline (Hive)")
        axes.set_xticks(list(positions), [str(c) for c in configs], fontsize=7, rotation=45)
        axes.set_ylabel("records")
        axes.set_title(f"{result.topic} {result.hour}: {result.status} (online +{result.online.expired} expired)", fontsize=9)
        axes.legend(fontsize=7)
        figure.tight_layout()
        path = folder / "reconciliation.png"
        partial = path.with_name(f".{path.name}.partial")
        figure.savefig(partial, format="png")
        os.replace(partial, path)
        written.append(path)
    finally:
        plt.close(figure)
    return written
