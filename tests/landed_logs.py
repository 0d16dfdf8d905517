"""Generated logs written straight into HDFS in the HadoopConsumer's layout, and the reports expected
from them, computed here in plain Python (independently of the HQL under test)."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.hdfs_layout import batch_file_name, hour_dir, hour_partition, quarantine_dir, topic_dir
from logstream.log_hours.hours import hour_key, parse_hour_key, shift
from logstream.hive.hql import render
from logstream.hive.reports import REPORTS
from logstream.log_entry import InvalidEntry, LogEntry, parse_entry
from logstream.log_generator import LogGenerator

TOPIC = "security_logs"
PARTITIONS = 3


@dataclass(frozen=True)
class Quarantined:
    partition: int
    offset: int
    timestamp_ms: int
    reason: str
    raw: bytes


@dataclass
class LandedLogs:
    """What a test landed under ``root``: entries and quarantined records by hour key."""

    client: object
    root: str
    topic: str = TOPIC
    entries: dict[str, list[LogEntry]] = field(default_factory=lambda: defaultdict(list))
    quarantined: dict[str, list[Quarantined]] = field(default_factory=lambda: defaultdict(list))
    next_offset: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def land_hour(self, key: str, *, count: int, seed: int, hosts: int, bad_ratio: float = 0.02) -> None:
        """``count`` generated records with StartTime in hour ``key``, spread over the partitions."""
        start = int(parse_hour_key(key).timestamp())
        generator = LogGenerator(seed=seed, hosts=hosts, configs=6, bad_ratio=bad_ratio)
        records = list(generator.records(count, start=start, end=start + 3600))
        self.land([record.value for record in records], timestamp_ms=start * 1000 + 1000)

    def land(self, values: list[bytes], *, timestamp_ms: int) -> None:
        """One batch per partition, as the HadoopConsumer writes it (records round-robin over partitions)."""
        for partition in range(PARTITIONS):
            batch = values[partition::PARTITIONS]
            if not batch:
                continue
            first = self.next_offset[partition]
            self.next_offset[partition] += len(batch)
            name = batch_file_name(self.topic, partition, first, first + len(batch) - 1, "log")
            logs: dict[str, list[bytes]] = defaultdict(list)
            bad: dict[str, list[Quarantined]] = defaultdict(list)
            for offset, value in enumerate(batch, start=first):
                try:
                    entry = parse_entry(value)
                except InvalidEntry as err:
                    record = Quarantined(partition, offset, timestamp_ms, err.reason, value)
                    bad["{}T{}".format(*hour_partition(timestamp_ms / 1000))].append(record)
                    continue
                key = "{}T{}".format(*hour_partition(entry.start_time))
                logs[key].append(value)
                self.entries[key].append(entry)
            for key, lines in logs.items():
                folder = hour_dir(topic_dir(self.root, self.topic), *key.split("T"))
                self.client.write(f"{folder}/{name}", data=b"".join(line + b"\n" for line in lines), overwrite=True)
            for key, records in bad.items():
                folder = hour_dir(quarantine_dir(self.root, self.topic), *key.split("T"))
                lines = [f"{r.partition}\t{r.offset}\t{r.timestamp_ms}\t{r.reason}\t{base64.b64encode(r.raw).decode()}\n" for r in records]
                self.client.write(f"{folder}/{name[:-4]}.tsv", data="".join(lines).encode(), overwrite=True)
                self.quarantined[key].extend(records)

    def commit_offsets(self, watermark: int) -> None:
        store = OffsetStore(self.client, self.root)
        for partition in range(PARTITIONS):
            store.write(PartitionOffset(self.topic, partition, "127.0.0.1:9092", self.next_offset[partition], watermark))


def expected_reports(
    landed: LandedLogs, key: str, *, version: int, top_hosts: int = 10, lookback_hours: int = 24, tolerance: float = 2
) -> dict[str, list[tuple]]:
    entries = landed.entries.get(key, [])
    by_host: dict[str, list[LogEntry]] = defaultdict(list)
    by_config: dict[int, list[LogEntry]] = defaultdict(list)
    for entry in entries:
        by_host[entry.host].append(entry)
        by_config[entry.config_id].append(entry)

    per_host = {
        host: (len(items), len({e.config_id for e in items}), min(e.start_time for e in items), max(e.start_time for e in items))
        for host, items in by_host.items()
    }
    ranked = sorted(per_host, key=lambda host: (-per_host[host][0], host))[:top_hosts]
    seen_before = {
        entry.host
        for back in range(1, lookback_hours + 1)
        for entry in landed.entries.get(shift(key, -back), [])
    }
    usual = {}
    for config_id, items in by_config.items():
        counts = Counter(e.interval for e in items)
        usual[config_id] = min(counts, key=lambda interval: (-counts[interval], interval))
    return {
        "records_per_config": sorted(
            (config_id, len(items), len({e.host for e in items}), version) for config_id, items in by_config.items()
        ),
        "records_per_host": sorted((host, *stats, version) for host, stats in per_host.items()),
        "top_hosts": sorted(
            (rank, host, per_host[host][0], round(per_host[host][0] / len(entries), 9), version)
            for rank, host in enumerate(ranked, start=1)
        ),
        "new_hosts": sorted(
            (host, per_host[host][2], per_host[host][0], version) for host in per_host if host not in seen_before
        ),
        "interval_outliers": sorted(
            (e.host, e.config_id, e.start_time, e.interval, usual[e.config_id], version)
            for e in entries
            if e.interval > usual[e.config_id] * tolerance or e.interval * tolerance < usual[e.config_id]
        ),
        "quarantine_reasons": sorted(
            (reason, count, version) for reason, count in Counter(r.reason for r in landed.quarantined.get(key, [])).items()
        ),
    }


def report_rows(query, database: str, key: str, topic: str = TOPIC) -> dict[str, list[tuple]]:
    """Every report's rows of hour ``key``, sorted, shares rounded like :func:`expected_reports`."""
    dt, hour = key.split("T")
    rows = {}
    for report in REPORTS:
        sql = render("select_report.hql", database=database, table=report.table, columns=report.columns,
                     topic=topic, dt=dt, hour=hour, order_by=report.order_by)
        found = [tuple(row) for row in query(sql)]
        if report.name == "top_hosts":
            found = [(rank, host, records, round(share, 9), version) for rank, host, records, share, version in found]
        rows[report.name] = sorted(found)
    return rows


def hours_across_midnight(day: datetime, count: int = 3) -> list[str]:
    """``count`` hour keys ending with the first hour of ``day``'s next day (22, 23, 00 for 3)."""
    midnight = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return [hour_key(midnight - timedelta(hours=count - 1 - i)) for i in range(count)]


def hive_reports(hive, hdfs_client, topic: str, root: str, keys: list[str]) -> tuple[Counter, dict]:
    """The hive_reports HQL over the topic's landed hours (``hive``: Airflow's HiveServer2 hook), into a
    database of the test's own (named as the topic, dropped after): records per (hour, Configuration
    ID), and the rows of the ``line_ids`` table (the landed side indexes) per "<host> <file id>"."""
    from functools import partial

    from logstream.hive.reporting import ReportParams, report_hours

    params = ReportParams(database=topic, hdfs_root=root)
    try:
        report_hours(partial(hive.run, split_statements=True), hive.get_records, hdfs_client, topic=topic, keys=keys,
                     params=params, run_id="test")
        rows = hive.get_records(f"SELECT dt, hour, config_id, records FROM {topic}.report_records_per_config "
                                f"WHERE topic = '{topic}'")
        line_ids: dict[str, list] = {}
        for host, file_id, start, end, lines in hive.get_records(
                f"SELECT host, file_id, start_byte, end_byte, lines FROM {topic}.line_ids WHERE topic = '{topic}'"):
            line_ids.setdefault(f"{host} {file_id}", []).append((int(start), int(end), int(lines)))
        return Counter({(f"{dt}T{hour}", int(config)): int(records) for dt, hour, config, records in rows}), line_ids
    finally:
        hive.run(f"DROP DATABASE IF EXISTS {topic} CASCADE")
