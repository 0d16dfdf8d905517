"""The security_stats topology's throughput and pane latency, beside Kafka's own consumer, in one run.

    PYTHONPATH=plugins .venv/bin/python bench/storm_topology_bench.py [--records 2000000]
                                        [--live-seconds 40] [--live-rate 25000] [--line-ids] [--cluster]

1. Produces N generated entries (0.2% malformed) into a fresh topic with the pipeline's partitions.
2. Baseline: ``kafka-consumer-perf-test`` (org.apache.kafka.tools.ConsumerPerformance) reads them.
3. Submits the topology to the stack's Nimbus and measures the sustained records/s from its first
   committed flush until every offset is committed (Kafka -> spout -> parse + panes -> PostgreSQL).
4. Live phase: produces at a fixed rate (keep it below the sustained rate: a backlog's wait is not a
   pane's latency) with event time running 60x (a pane closes every second), and
   reports the delay from each pane's close (the Kafka timestamp of the record that closed it) to the
   commit of that close (``online_pane_closes``): median and p99.
5. Checks that every produced record is counted exactly once, then kills the topology.

Over the sustained phase it also prints where the CPU went, per part (the spout's and the bolt's
Python processes, the worker JVM, PostgreSQL's backends, the broker, the rest of the machine), as
seconds and microseconds per record, from ``/proc`` (local stack only: the cluster's hosts are
namespaces of this box, so there it is the box's processes too).

``--line-ids``: all of it four times in one run, on topics without and with line ids (the Kafka key
the Flume tiers give each line; one host file per partition), which spout and bolt read and keep, in
the order without, with, with, without; prints the ratio of the mean sustained rates.

``--cluster``: all of it on the multi-host cluster (``python -m logstream cluster up``, as root): the
topic at replication 3 on its 3 brokers, the topology on its Nimbus and Supervisor hosts with the
shipped environment, the store on its postgres host; the baseline reads the same brokers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone

import psycopg2
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_perf import consumer_perf_test
from logstream.line_ids import make_line_id
from logstream.log_generator import LogGenerator
from logstream.pipeline_config import load_pipeline_config
from logstream.stack.config import StackConfig
from logstream.stack.local_stack import LocalStack
from logstream.stack.postgres import Postgres
from logstream.stack.process import running_processes
from logstream.storm.deployment import deploy

SERVICES = ("postgres", "zookeeper", "kafka", "storm")


def produce_backlog(bootstrap: str, topic: str, count: int, partitions: int, line_ids: bool = False) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 1_000_000})
    now = int(time.time())
    generator = LogGenerator(seed=11, bad_ratio=0.002)
    file_ends = [0] * partitions
    for i, record in enumerate(generator.records(count, start=now - 3 * 3600, end=now)):
        partition, key = i % partitions, None
        if line_ids:  # as the L1 of host web<p> sends a line of its app.log (logstream/line_ids.py)
            start = file_ends[partition]
            file_ends[partition] += len(record.value) + 1
            key = make_line_id(f"web{partition}", f"1835021-{partition:x}", start, file_ends[partition])
        while True:
            try:
                producer.produce(topic, record.value, key, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(300)


def produce_live(bootstrap: str, topic: str, seconds: float, rate: int, partitions: int) -> int:
    """``rate`` records/s for ``seconds``; event time starts now (past the backlog's newest entry, so
    nothing is late) and runs 60 s per second: a pane closes every second."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "queue.buffering.max.messages": 1_000_000})
    generator = LogGenerator(seed=12)
    began = time.monotonic()
    event_start = int(time.time())
    sent = 0
    while (elapsed := time.monotonic() - began) < seconds:
        due = int(elapsed * rate)
        event_time = event_start + int(elapsed * 60)
        for _ in range(due - sent):
            producer.produce(topic, generator.entry(event_time), partition=sent % partitions)
            sent += 1
        producer.poll(0)
        time.sleep(0.01)
    producer.flush(60)
    return sent


# the parts a record goes through, by what their command line holds (the first match names it)
CPU_PARTS = (
    ("spout (Python)", "LogEntrySpout"),
    ("bolt (Python)", "WindowCountBolt"),
    ("worker LogWriter", "org.apache.storm.LogWriter"),
    ("worker JVM", "org.apache.storm.daemon.worker.Worker"),
    ("Storm daemons", "org.apache.storm."),
    ("Kafka broker", "kafka.Kafka"),
    ("PostgreSQL", "postgres"),
    ("this bench", "storm_topology_bench"),
)


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Each running process's part (``CPU_PARTS``, else "other") and its CPU seconds so far."""
    seen = {}
    for process in running_processes():
        command = process.command()
        part = next((name for name, mark in CPU_PARTS if mark in command), "other")
        seen[process.pid] = (part, process.cpu_seconds)
    return seen


def cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per part between two ``cpu_by_process`` readings (a process born between them counts
    whole; one that ended between them is lost to both: rare here, the topology's processes live on)."""
    spent: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        earlier = before.get(pid)
        spent[part] = spent.get(part, 0.0) + seconds - (earlier[1] if earlier and earlier[0] == part else 0.0)
    return spent


def print_cpu(spent: dict[str, float], records: int, wall_seconds: float) -> None:
    total = sum(spent.values())
    print(f"CPU over the sustained phase: {total:.1f} s in {wall_seconds:.1f} s "
          f"({total / wall_seconds:.2f} cores), {total / records * 1e6:.2f} µs a record:")
    for part, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {part:<16} {seconds:7.1f} s  {seconds / records * 1e6:6.2f} µs a record  {seconds / total:6.1%}")


def counted(dsn: str, name: str) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(next_offset), 0) FROM online_offsets WHERE topology = %s", (name,))
        value = int(cur.fetchone()[0])
    conn.close()
    return value


def wait_counted(dsn: str, name: str, total: int, timeout: float, on_first=None) -> tuple[float, float, int]:
    """Poll until ``total`` offsets are committed; (first progress time, end time, count at first
    progress). ``on_first()`` is called at the first progress."""
    deadline = time.monotonic() + timeout
    first_at, first_count, last_report = None, 0, time.monotonic()
    while time.monotonic() < deadline:
        done = counted(dsn, name)
        now = time.monotonic()
        if first_at is None and done > 0:
            first_at, first_count = now, done
            if on_first is not None:
                on_first()
        if now - last_report >= 10:
            print(f"  counted {done:,}/{total:,}", flush=True)
            last_report = now
        if done >= total:
            return first_at, now, first_count
        time.sleep(0.25)
    raise RuntimeError(f"only {counted(dsn, name):,} of {total:,} records counted within {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--live-seconds", type=float, default=40)
    parser.add_argument("--live-rate", type=int, default=25_000)
    parser.add_argument("--line-ids", action="store_true",
                        help="run it without, then with line ids, and print the ratio")
    parser.add_argument("--cluster", action="store_true", help="on the multi-host cluster (3 brokers, replication 3)")
    args = parser.parse_args()

    config = StackConfig()
    if args.cluster:
        from logstream.cluster.cluster import Cluster

        cluster = Cluster()
        cluster.up()
        bootstrap, dsn, replication = cluster.kafka_bootstrap, cluster.postgres.dsn("logstream"), 3
        nimbus, command, jar_dir = cluster.nimbus.nimbus(), cluster.streamparse_run, cluster.config.home / "storm-jars"
    else:
        LocalStack(config, only=SERVICES).up()
        bootstrap, dsn, replication = config.kafka_bootstrap, Postgres(config).dsn("logstream"), 1
        nimbus = LocalStack(config, only=SERVICES).service("storm").nimbus()
        command, jar_dir = None, config.data_dir / "storm" / "jars"
    partitions = load_pipeline_config().topics[0].partitions
    if not args.line_ids:
        rate, exact = measure(args, config, bootstrap, dsn, replication, nimbus, command, jar_dir, partitions)
        return 0 if exact else 1
    # the same run without and with line ids, in the order without, with, with, without (a machine
    # that drifts over the run favours neither): the cost of reading and keeping them
    rates: dict[bool, list[float]] = {False: [], True: []}
    all_exact = True
    for line_ids in (False, True, True, False):
        rate, exact = measure(args, config, bootstrap, dsn, replication, nimbus, command, jar_dir, partitions,
                              line_ids=line_ids)
        rates[line_ids].append(rate)
        all_exact &= exact
    plain, with_ids = statistics.mean(rates[False]), statistics.mean(rates[True])
    print(f"sustained rate with line ids / without: {with_ids / plain:.2f} (means of two runs each: "
          f"{with_ids:,.0f} ({', '.join(f'{r:,.0f}' for r in rates[True])}) / {plain:,.0f} "
          f"({', '.join(f'{r:,.0f}' for r in rates[False])}) records/s)")
    return 0 if all_exact else 1


def measure(args, config: StackConfig, bootstrap: str, dsn: str, replication: int, nimbus, command, jar_dir,
            partitions: int, *, line_ids: bool = False) -> tuple[float, bool]:
    """One topology on a fresh topic: its sustained rate over the backlog (records/s) and whether it
    counted every record exactly once."""
    name = f"bench_storm_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, replication)])[name].result()

    began = time.monotonic()
    produce_backlog(bootstrap, name, args.records, partitions, line_ids)
    print(f"produced {args.records:,} entries{' with line ids' if line_ids else ''} into {name} "
          f"({partitions} partitions, replication {replication}) in {time.monotonic() - began:.1f}s")
    baseline = consumer_perf_test(config, name, args.records, heap="512m", bootstrap=bootstrap)["nMsg.sec"]
    print(f"kafka-consumer-perf-test: {baseline:,.0f} records/s")

    deployment = deploy(nimbus=nimbus, name=name, topic=name, kafka_bootstrap=bootstrap,
                        results_dsn=dsn, jar_dir=jar_dir, command=command)
    print(f"submitted {deployment.topology_id}")
    try:
        cpu_at_first: dict[int, tuple[str, float]] = {}
        first_at, end_at, first_count = wait_counted(dsn, name, args.records, timeout=1800,
                                                     on_first=lambda: cpu_at_first.update(cpu_by_process()))
        cpu = cpu_spent(cpu_at_first, cpu_by_process())
        rate = (args.records - first_count) / (end_at - first_at)
        print(f"topology: {args.records:,} records counted; sustained {rate:,.0f} records/s "
              f"(from its first commit, {first_count:,} records in, to the last)")
        print_cpu(cpu, args.records - first_count, end_at - first_at)

        live_began = datetime.now(timezone.utc)  # the backlog's records all have earlier Kafka timestamps
        live = produce_live(bootstrap, name, args.live_seconds, args.live_rate, partitions)
        wait_counted(dsn, name, args.records + live, timeout=600)
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM committed_at - closed_by_time) FROM online_pane_closes "
                        "WHERE topology = %s AND closed_by_time >= %s", (name, live_began))
            delays = sorted(float(row[0]) for row in cur.fetchall())
            cur.execute("SELECT (SELECT sum(records + expired_records) FROM online_pane_totals WHERE topic = %(t)s)"
                        " + (SELECT coalesce(sum(records), 0) FROM online_bad_records WHERE topic = %(t)s)",
                        {"t": name})
            total_counted = int(cur.fetchone()[0])
        conn.close()
        if delays:
            p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
            print(f"live: {live:,} records at {args.live_rate:,}/s; pane close -> row committed over {len(delays)} "
                  f"pane closes: median {statistics.median(delays):.3f}s, p99 {p99:.3f}s, max {delays[-1]:.3f}s")
        else:
            print("live: no pane closed during the live phase")
        health = nimbus.health(name)
        print(f"Storm: emitted {health.emitted:,} acked {health.acked:,} failed {health.failed:,} tuples, "
              f"complete latency {health.complete_latency_ms:.0f} ms")
        exact = total_counted == args.records + live
        print(f"counted {total_counted:,} of {args.records + live:,} produced records: {'exact' if exact else 'MISMATCH'}")
        print(f"ratio topology / kafka-consumer-perf-test: {rate / baseline:.2f}")
        return rate, exact and bool(delays)
    finally:
        nimbus.kill(name)

if __name__ == "__main__":
    sys.exit(main())
