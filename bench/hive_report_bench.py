"""The hourly Hive reports over 10,000,000 entries (the paper's 5 minutes of traffic) on this machine.

    PYTHONPATH=plugins .venv/bin/python bench/hive_report_bench.py [--entries 10000000] [--runs N] [--keep]

Generates the entries of one hour with the project's generator's hosts, configurations and intervals
(drawn in bulk, so that generating is not the slow part), writes them per Kafka partition and
consumer run (``--runs``, the files the HadoopConsumer lands in an hour) locally, uploads them into a fresh HDFS root in the HadoopConsumer's layout, then runs the same HQL
the hive_reports DAG runs (``logstream.hive.reporting``) on the stack's Hive, timing each statement.
It checks that the reports add up to the entries, and drops its database and files at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import hdfs

from logstream.stack.airflow import airflow_env
from logstream.stack.config import StackConfig

# the stack's connections, and quiet hooks (they log every statement at INFO)
os.environ.update(airflow_env(StackConfig()), AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING")

from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook  # noqa: E402
from airflow.providers.common.sql.hooks.sql import DbApiHook  # noqa: E402

from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset  # noqa: E402
from logstream.hdfs_layout import batch_file_name, hour_dir, topic_dir  # noqa: E402
from logstream.log_hours.hours import parse_hour_key  # noqa: E402
from logstream.hive.reporting import ReportParams, report_hours  # noqa: E402
from logstream.log_generator import LogGenerator  # noqa: E402
from logstream.pipeline_config import load_pipeline_config  # noqa: E402

TOPIC = "security_logs"
PARTITIONS = 3
HOUR = "2026-01-01T00"


def generate(entries: int, folder: Path, runs: int) -> list[list[Path]]:
    """``entries`` lines of hour HOUR in time order, round-robin over the partitions, each partition's
    in ``runs`` files (one per consumer run of the hour, as the HadoopConsumer lands them): the paths
    by partition, in offset order."""
    generator = LogGenerator(seed=11)
    draw = generator.random
    hosts = draw.choices(generator.hosts, cum_weights=generator.host_cum_weights, k=entries)
    configs = draw.choices(generator.configs, k=entries)
    start = int(parse_hour_key(HOUR).timestamp())
    paths = [[folder / f"{partition}-{run:03d}.log" for run in range(runs)] for partition in range(PARTITIONS)]
    files = [[path.open("w", buffering=1 << 22) for path in by_run] for by_run in paths]
    try:
        for i in range(entries):
            interval = generator.usual_interval[configs[i]]
            if draw.random() < 0.01:
                interval *= draw.choice((7, 11, 13))
            files[i % PARTITIONS][i * runs // entries].write(
                f"{hosts[i]},{configs[i]},{start + i * 3600 // entries},{interval}\n")
    finally:
        for by_run in files:
            for file in by_run:
                file.close()
    return paths


def upload(client, root: str, paths: list[list[Path]]) -> None:
    folder = hour_dir(topic_dir(root, TOPIC), *HOUR.split("T"))
    store = OffsetStore(client, root)
    for partition, by_run in enumerate(paths):
        offset = 0
        for path in by_run:
            with path.open("rb") as file:
                count = sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 22), b""))
            if count:
                client.upload(f"{folder}/{batch_file_name(TOPIC, partition, offset, offset + count - 1, 'log')}",
                              str(path), overwrite=True)
            offset += count
        store.write(PartitionOffset(TOPIC, partition, "127.0.0.1:9092", offset, int(parse_hour_key(HOUR).timestamp()) + 3600))


class TimedHive:
    """Runs HQL scripts statement by statement through HiveServer2Hook, keeping each statement's time;
    a script's statements share one session, as in the DAG (``run(..., split_statements=True)``)."""

    def __init__(self) -> None:
        self.hook = HiveServer2Hook()
        self.timings: list[tuple[str, float]] = []

    def execute(self, script: str) -> None:
        with closing(self.hook.get_conn()) as connection, closing(connection.cursor()) as cursor:
            for statement in DbApiHook.split_sql_string(script):
                began = time.perf_counter()
                cursor.execute(statement)
                self.timings.append((" ".join(statement.split()[:4]), time.perf_counter() - began))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=1,
                        help="files per partition, as that many consumer runs land the hour (default 1, the "
                             f"figures' layout; pipeline.yaml's consumer lands {60 // load_pipeline_config().consumer.every_minutes})")
    parser.add_argument("--keep", action="store_true", help="keep the bench's database and HDFS files")
    args = parser.parse_args()

    config = StackConfig()
    client = hdfs.InsecureClient(f"http://{config.host}:{config.ports['hdfs_http']}", user="root")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    root, database = f"/bench/{name}/logs", name
    hive = TimedHive()
    try:
        with tempfile.TemporaryDirectory() as local:
            began = time.perf_counter()
            paths = generate(args.entries, Path(local), args.runs)
            size = sum(path.stat().st_size for by_run in paths for path in by_run)
            generated = time.perf_counter() - began
            began = time.perf_counter()
            upload(client, root, paths)
            uploaded = time.perf_counter() - began
        print(f"generated {args.entries:,} entries ({size / 1e6:.0f} MB) in {generated:.1f}s; "
              f"uploaded to HDFS in {uploaded:.1f}s ({size / 1e6 / uploaded:.0f} MB/s)")

        params = ReportParams(database=database, hdfs_root=root)
        began = time.perf_counter()
        [plan] = report_hours(hive.execute, hive.hook.get_records, client, topic=TOPIC, keys=[HOUR], params=params, run_id="bench")
        total = time.perf_counter() - began
        setup = sum(seconds for statement, seconds in hive.timings if statement.startswith("CREATE"))
        reporting = total - setup

        reported = hive.hook.get_records(f"SELECT records FROM {database}.report_runs")[0][0]
        per_config = hive.hook.get_records(f"SELECT sum(records) FROM {database}.report_records_per_config")[0][0]
        outliers = hive.hook.get_records(f"SELECT count(*) FROM {database}.report_interval_outliers")[0][0]
        assert reported == per_config == args.entries, (reported, per_config, args.entries)

        print(f"hour {HOUR} of {TOPIC}: {plan.files} files, {plan.bytes / 1e6:.0f} MB, version {plan.version}")
        for statement, seconds in hive.timings:
            if not statement.startswith("CREATE"):
                print(f"  {seconds:7.2f}s  {statement}")
        print(f"tables (CREATE ... IF NOT EXISTS): {setup:.1f}s")
        print(f"reports of the hour: {reporting:.1f}s for {args.entries:,} entries = {args.entries / reporting:,.0f} entries/s "
              f"({outliers:,} interval outliers; every report adds up to {reported:,})")
    finally:
        if not args.keep:
            hive.hook.run(f"DROP DATABASE IF EXISTS {database} CASCADE")
            client.delete(f"/bench/{name}", recursive=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
