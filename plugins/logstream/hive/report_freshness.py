"""Reports that keep up with what landed: an hour whose landed input no report covers yet, long
after it had to be reported, is overdue.

An hour's input is the fingerprint of its landed and quarantined files (``report_plan.fingerprint``,
the one ``report_runs`` records per version). Hour H had to be reported by ``end(H) + lateness``
(complete or not: the lateness bound's promise, ``log_hours/completeness.py``), and input that
landed later (a restatement) by its newest file's landing time. H is overdue when, ``max_delay``
after both, its current fingerprint is in no ``report_runs`` row: the reports DAG stopped, failed,
or never heard of the hour. Times are HDFS's (files) and the caller's ``now``; no hour is compared
with anything but the clock it is measured on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from logstream.hdfs_layout import quarantine_dir, topic_dir
from logstream.hive.report_plan import fingerprint, hour_folders, landed_file_statuses
from logstream.log_hours.hours import hour_key, shift


@dataclass(frozen=True)
class OverdueHour:
    topic: str
    key: str
    fingerprint: str
    files: int
    landed_by: float  # epoch seconds: the newest file's landing (HDFS modification time)
    reported_versions: int  # versions reported over other input

    def __str__(self) -> str:
        landed = datetime.fromtimestamp(self.landed_by, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        reported = ("never reported" if not self.reported_versions
                    else f"{self.reported_versions} version(s) reported, none over this input")
        return f"{self.topic} {self.key}: {self.files} file(s), the last landed {landed}, {reported}"


def overdue_hours(client, root: str, topic: str, history: Mapping[str, list[tuple[int, str]]], *, now: float,
                  lateness_seconds: float, max_delay_seconds: float, lookback_hours: int) -> list[OverdueHour]:
    """The hours of ``topic`` under ``root`` whose landed input is overdue for a report at ``now``.

    :param history: ``report_runs``' (version, fingerprint) per hour key (``report_plan.history_by_hour``)
    """
    # the newest hour that had to be reported max_delay ago: its end + lateness + max_delay <= now
    newest = shift(hour_key(datetime.fromtimestamp(now - lateness_seconds - max_delay_seconds, tz=timezone.utc)), -1)
    oldest = shift(newest, -lookback_hours + 1)
    logs = hour_folders(client, topic_dir(root, topic), oldest, newest)
    quarantine = hour_folders(client, quarantine_dir(root, topic), oldest, newest)
    overdue = []
    for key in sorted(logs.keys() | quarantine.keys()):
        log_files = landed_file_statuses(client, logs[key].location) if key in logs else []
        quarantine_files = landed_file_statuses(client, quarantine[key].location) if key in quarantine else []
        if not log_files and not quarantine_files:
            continue
        current = fingerprint([(name, size) for name, size, _ in log_files],
                              [(name, size) for name, size, _ in quarantine_files])
        reported = history.get(key, [])
        if current in {recorded for _, recorded in reported}:
            continue
        landed_by = max(landed for _, _, landed in log_files + quarantine_files)
        if landed_by + max_delay_seconds > now:
            continue  # a restatement that landed lately: the next announcement reports it
        overdue.append(OverdueHour(topic, key, current, len(log_files) + len(quarantine_files), landed_by,
                                   len(reported)))
    return overdue

