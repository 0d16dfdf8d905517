"""What reporting an hour needs, found in HDFS and in the report history: the plan the HQL renders from.

Versions (see DESIGN.md): an hour's input is fingerprinted by the names and sizes of its landed
files (names carry the Kafka offsets, so a late batch adds a name). The first report of an hour is
version 1; a report over a fingerprint already recorded in ``report_runs`` reuses that version, so
running a completed interval again writes the same rows; a new fingerprint gets the next version.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from hdfs.util import HdfsError

from logstream.hdfs_layout import hour_dir, line_ids_dir, quarantine_dir, topic_dir
from logstream.log_hours.hours import dt_and_hour, parse_hour_key, shift


# an hour reported without asking whether it is complete (the benchmark, tests of the HQL)
UNCHECKED = "unchecked"


@dataclass(frozen=True)
class HourFolder:
    dt: str
    hour: str
    location: str


@dataclass(frozen=True)
class HourPlan:
    topic: str
    key: str
    dt: str
    hour: str
    start: int
    end: int
    version: int
    fingerprint: str
    files: int
    bytes: int
    # first hour of the window a host must be absent from to be "new"
    lookback_dt: str
    lookback_hour: str
    # folders to register as partitions before reporting: the hour and its lookback window
    log_partitions: tuple[HourFolder, ...]
    quarantine_partitions: tuple[HourFolder, ...]
    # how the hour became reportable (logstream.log_hours.completeness), recorded in report_runs
    completeness: str = UNCHECKED
    # the hour's side index folder (the line ids of its entries), if any
    line_id_partitions: tuple[HourFolder, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, plan: Mapping) -> HourPlan:
        """The inverse of :meth:`as_dict` (a plan that travelled through XCom)."""
        folders = {name: tuple(HourFolder(**folder) for folder in plan.get(name, ()))
                   for name in ("log_partitions", "quarantine_partitions", "line_id_partitions")}
        return cls(**{**plan, **folders})


def landed_file_statuses(client, folder: str) -> list[tuple[str, int, float]]:
    """(name, size, landing time in epoch seconds) of the files Hive reads in ``folder``; Hadoop input
    formats skip ``_`` and ``.`` names."""
    try:
        listing = client.list(folder, status=True)  # one call; asking whether it exists first would be two
    except HdfsError:
        if client.status(folder, strict=False) is not None:
            raise
        return []
    return sorted(
        (name, status["length"], status["modificationTime"] / 1000)
        for name, status in listing
        if status["type"] == "FILE" and not name.startswith(("_", "."))
    )


def landed_files(client, folder: str) -> list[tuple[str, int]]:
    """(name, size) of the files Hive reads in ``folder``."""
    return [(name, size) for name, size, _ in landed_file_statuses(client, folder)]


def fingerprint(log_files: Iterable[tuple[str, int]], quarantine_files: Iterable[tuple[str, int]]) -> str:
    digest = hashlib.sha256()
    for kind, files in (("log", log_files), ("quarantine", quarantine_files)):
        for name, size in sorted(files):
            digest.update(f"{kind}/{name}:{size}\n".encode())
    return digest.hexdigest()[:20]


def assign_version(current: str, history: Iterable[tuple[int, str]]) -> int:
    """The version of a report over input ``current``, given the (version, fingerprint) reported before."""
    history = list(history)
    for version, recorded in history:
        if recorded == current:
            return version
    return max((version for version, _ in history), default=0) + 1


def history_by_hour(rows: Iterable[tuple[str, str, int, str]]) -> dict[str, list[tuple[int, str]]]:
    """``report_runs`` rows (dt, hour, version, fingerprint) by hour key."""
    history: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for dt, hour, version, recorded in rows:
        history[f"{dt}T{hour}"].append((int(version), recorded))
    return dict(history)


def hour_folders(client, base: str, first: str, last: str) -> dict[str, HourFolder]:
    """The ``dt=/hour=`` folders under ``base`` for hours ``first`` to ``last`` (keys, inclusive)."""
    if client.status(base, strict=False) is None:
        return {}
    first_dt, last_dt = dt_and_hour(first)[0], dt_and_hour(last)[0]
    folders = {}
    for day in sorted(client.list(base)):
        if not day.startswith("dt=") or not first_dt <= day[3:] <= last_dt:
            continue
        for hour in client.list(f"{base}/{day}"):
            key = f"{day[3:]}T{hour[5:]}"
            if hour.startswith("hour=") and first <= key <= last:
                folders[key] = HourFolder(day[3:], hour[5:], hour_dir(base, day[3:], hour[5:]))
    return folders


def plan_hours(
    client,
    root: str,
    topic: str,
    keys: Iterable[str],
    history: Mapping[str, list[tuple[int, str]]],
    *,
    lookback_hours: int,
    completeness: Mapping[str, str] | None = None,
) -> list[HourPlan]:
    """Each hour's plan; ``completeness`` says how each hour became reportable (default: unchecked)."""
    completeness = completeness or {}
    keys = sorted(set(keys))
    if not keys:
        return []
    logs_base, quarantine_base, line_ids_base = topic_dir(root, topic), quarantine_dir(root, topic), line_ids_dir(root, topic)
    log_folders = hour_folders(client, logs_base, shift(keys[0], -lookback_hours), keys[-1])
    plans = []
    for key in keys:
        dt, hour = dt_and_hour(key)
        lookback_start = shift(key, -lookback_hours)
        # the listing above already says which log folders exist
        log_files = landed_files(client, log_folders[key].location) if key in log_folders else []
        quarantine_files = landed_files(client, hour_dir(quarantine_base, dt, hour))
        # published with the hour's entries files: not part of the input's fingerprint
        has_line_ids = bool(log_files) and bool(landed_files(client, hour_dir(line_ids_base, dt, hour)))
        current = fingerprint(log_files, quarantine_files)
        start = int(parse_hour_key(key).timestamp())
        plans.append(
            HourPlan(
                topic=topic,
                key=key,
                dt=dt,
                hour=hour,
                start=start,
                end=start + 3600,
                version=assign_version(current, history.get(key, [])),
                fingerprint=current,
                files=len(log_files),
                bytes=sum(size for _, size in log_files),
                lookback_dt=dt_and_hour(lookback_start)[0],
                lookback_hour=dt_and_hour(lookback_start)[1],
                log_partitions=tuple(
                    folder for folder_key, folder in sorted(log_folders.items()) if lookback_start <= folder_key <= key
                ),
                quarantine_partitions=(HourFolder(dt, hour, hour_dir(quarantine_base, dt, hour)),) if quarantine_files else (),
                completeness=completeness.get(key, UNCHECKED),
                line_id_partitions=(HourFolder(dt, hour, hour_dir(line_ids_base, dt, hour)),) if has_line_ids else (),
            )
        )
    return plans

