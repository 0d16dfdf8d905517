"""The main job end to end: ``python -m logstream demo`` on the embedded local stack, ``demo --cluster``
on the multi-host cluster (hosts as network namespaces, :mod:`logstream.cluster`).

Starts the stack, writes generated security log entries (the last few hours, a few malformed) into
the simulated front-end hosts' log files, from where the Flume tiers (L1 -> L2) carry them into
their business topics in Kafka, runs the HadoopConsumer DAG in Airflow to land them exactly once in
HDFS, and lets the Hive reports DAG (triggered by the consumer's asset events) report the
complete hours. Beside it, the storm_topologies DAG deploys the online statistics on the stack's
Storm, and the demo prints their counts once every record is in the result database. Everything
happens in the stack's Airflow: the UI shows each run and its logs. On the cluster the same DAGs run
on the airflow host and reach every service over the network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import hdfs
import psycopg2
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from logstream.flume.host_logs import feed_through_flume
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_partitions import end_offsets
from logstream.kafka_topics import ensure_topic
from logstream.log_generator import LogGenerator
from logstream.pipeline_config import load_pipeline_config
from logstream.stack.airflow import users_file
from logstream.stack.airflow_api import AirflowApi
from logstream.stack.local_stack import LocalStack
from logstream.stack.flume import FlumeTiers
from logstream.stack.postgres import Postgres
from logstream.log_hours.hours import HOUR, hour_key
from logstream.reconciliation.host_hours import HOPS, account, count_lines, hdfs_lines, hive_counts, kafka_lines, storm_counts
from logstream.reconciliation.online_offline import online_final_through
from logstream.storm.topology_config import load_settings

HOURS_OF_LOGS = 3
# the hosts write their logs as they happen: five minutes of them at a time, each slice in Kafka
# before the next is written (all three hours at once would arrive far out of event-time order)
SLICE_SECONDS = 300


@dataclass(frozen=True)
class DemoStack:
    """Where the demo runs: its Airflow and the services the demo reads to print what happened."""

    airflow: AirflowApi
    kafka_bootstrap: str
    results_dsn: str
    webhdfs_url: str
    hive_query: Callable[[str], list[tuple]]
    flume: FlumeTiers
    stop_command: str


def local_stack(report) -> DemoStack:
    stack = LocalStack(report=report)
    seconds = stack.up()
    config = stack.config
    airflow = AirflowApi.for_stack(config)
    report(f"stack up in {seconds:.0f}s; Airflow UI: {airflow.base_url} (log in as {airflow.username}, "
           f"password in {users_file(config)}); live statistics: {airflow.base_url}/plugin/live")
    return DemoStack(airflow, config.kafka_bootstrap, Postgres(config).dsn("logstream"),
                     f"http://{config.host}:{config.ports['hdfs_http']}", stack.service("hive").query,
                     stack.service("flume").tiers, "make stack-down")


def cluster(report) -> DemoStack:
    from logstream.cluster.airflow import airflow_users
    from logstream.cluster.cluster import Cluster

    hosts = Cluster(report=report)
    seconds = hosts.up()
    airflow = AirflowApi(hosts.airflow_url, username="operator", password=airflow_users(hosts)["operator"])
    report(f"cluster up in {seconds:.0f}s; Airflow UI on its host: {airflow.base_url} (log in as operator, password "
           f"in {hosts.config.home / 'credentials'})")
    return DemoStack(airflow, hosts.kafka_bootstrap, hosts.postgres.dsn("logstream"), hosts.webhdfs_url,
                     hosts.hive.query, hosts.flume_agents[0].tiers, "python -m logstream cluster down")


def run(records_per_topic: int = 300_000, report=print, *, on_cluster: bool = False,
        hours_of_logs: int = HOURS_OF_LOGS) -> int:
    target = cluster(report) if on_cluster else local_stack(report)
    airflow = target.airflow

    pipeline = load_pipeline_config()
    now = int(time.time())
    start = now - hours_of_logs * 3600
    admin = AdminClient({"bootstrap.servers": target.kafka_bootstrap})
    for topic in pipeline.topics:
        report(ensure_topic(admin, topic.name, topic.partitions))
        report(f"writing {records_per_topic:,} generated entries for {topic.name} into the hosts' log files "
               f"(StartTime {datetime.fromtimestamp(start, timezone.utc):%H:%M} to "
               f"{datetime.fromtimestamp(now, timezone.utc):%H:%M} UTC, 0.2% malformed); Flume carries them to Kafka")
        generator = LogGenerator(seed=start, bad_ratio=0.002)
        slices = range(start, now, SLICE_SECONDS)
        fed = 0
        for number, slice_start in enumerate(slices):
            count = records_per_topic * (number + 1) // len(slices) - records_per_topic * number // len(slices)
            entries = generator.records(count, start=slice_start, end=min(slice_start + SLICE_SECONDS, now))
            written = feed_through_flume(pipeline, target.flume.home,
                                         (entry.value for entry in entries), admin=admin, topic=topic.name,
                                         report=lambda line: None)
            fed += sum(written.values())
        report(f"all {fed:,} lines of {topic.name} went through Flume into Kafka, "
               f"{len(slices)} slices of {SLICE_SECONDS // 60} minutes")

    since = datetime.now(timezone.utc)
    airflow.unpause_scheduled(report)
    # a run now rather than at the next five minutes: every topic's topology deployed and checked
    storm_run = airflow.trigger("storm_topologies")
    run_id = airflow.trigger("hadoop_consumer")
    report(f"triggered hadoop_consumer ({run_id}); watching it in Airflow ...")
    state = airflow.wait_for_run("hadoop_consumer", run_id)
    report(f"hadoop_consumer {run_id}: {state}")
    if state != "success":
        return failed(airflow, "hadoop_consumer", run_id, report)

    client = hdfs.InsecureClient(target.webhdfs_url, user="root")
    store = OffsetStore(client, pipeline.hdfs_root)
    for topic in pipeline.topics:
        for partition in store.list_partitions(topic.name):
            offset = store.read(topic.name, partition)
            watermark = "none" if offset.watermark < 0 else f"{datetime.fromtimestamp(offset.watermark, timezone.utc):%H:%M:%S}"
            report(f"  {pipeline.hdfs_root}/_offsets/{topic.name}/{partition}/offset.dat: offset={offset.offset} "
                   f"leader={offset.leader} watermark={watermark}")
        hours = sorted(client.list(f"{pipeline.hdfs_root}/{topic.name}"))
        report(f"  {pipeline.hdfs_root}/{topic.name}: {', '.join(hours)}")

    state = airflow.wait_for_run("storm_topologies", storm_run)
    report(f"storm_topologies {storm_run}: {state}")
    if state != "success":
        return failed(airflow, "storm_topologies", storm_run, report)
    for topic in pipeline.topics:
        if not report_online_counts(target, topic.name, report):
            return 1

    report("waiting for the hive_reports run the consumer's asset event triggered ...")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        triggered = [r for r in airflow.runs("hive_reports")
                     if r["run_type"] == "asset_triggered" and r["run_after"] >= since.isoformat()[:19]]
        done = [r for r in triggered if r["state"] in ("success", "failed")]
        if done:
            report(f"hive_reports {done[0]['dag_run_id']}: {done[0]['state']}")
            break
        time.sleep(5)
    else:
        report("hive_reports did not finish in 15 minutes; see the Airflow UI")
        return 1
    if done[0]["state"] != "success":
        return failed(airflow, "hive_reports", done[0]["dag_run_id"], report)
    for topic in pipeline.topics:
        if not reconcile_demo_hours(target, store, topic.name, report, since=start):
            return 1
    files = sorted(path for path in pipeline.reports_dir.rglob("*") if path.is_file() and path.stat().st_mtime >= since.timestamp())
    for path in files:
        report(f"  report file: {path}")
    report(f"Done. The HadoopConsumer keeps running every {pipeline.consumer.every_minutes} minutes and hive_reports "
           f"every hour; stop everything with `{target.stop_command}`.")
    return 0


def failed(airflow: AirflowApi, dag_id: str, run_id: str, report) -> int:
    """Say which tasks of a failed run failed and how their logs end; the demo's exit code."""
    for line in airflow.failure_summary(dag_id, run_id):
        report(line)
    return 1


# the logical date of the demo's run of an hour of the hourly reconcile DAG: Airflow infers the hour
# before it as the run's data interval. Past the hour's end, not on it: on the hour is the logical date
# of the next hour's scheduled run, and Airflow keeps one run per logical date. Not far past it
# either: Airflow starts no task of a run before its logical date, and the demo reconciles an hour
# minutes after its end.
RUN_PAST_HOUR_END = timedelta(minutes=1)


def final_demo_hours(first: datetime, offline_through: float, online_through: float, lateness: float, *,
                     now: datetime) -> list[datetime]:
    """The hours (their starts) from ``first``'s on that are final on both sides (offline: landed past
    their end; online: counted past their end plus the allowed ``lateness``) and whose reconcile run
    can start ``now`` (its logical date, a minute past the hour's end, has passed)."""
    hour = first.replace(minute=0, second=0, microsecond=0)
    hours = []
    while ((end := hour + HOUR).timestamp() <= offline_through and end.timestamp() + lateness <= online_through
           and end + RUN_PAST_HOUR_END <= now):
        hours.append(hour)
        hour += HOUR
    return hours


def reconcile_demo_hours(target: DemoStack, store: OffsetStore, topic: str, report, *, since: int) -> bool:
    """Run the reconcile DAG for each hour of the demo's logs (StartTime from ``since``) that is final
    on both sides (landed past its end offline, past its end plus the allowed lateness online) and
    print the comparison; False if any differs."""
    # a partition that has taken no record yet (watermark -1: a topic with more partitions than hosts)
    # holds no hour back
    watermarks = [store.read(topic, p).watermark for p in store.list_partitions(topic)]
    offline_through = min((watermark for watermark in watermarks if watermark >= 0), default=-1)
    lateness = load_settings()["logstream"]["allowed_lateness_seconds"]
    airflow = target.airflow
    with psycopg2.connect(target.results_dsn) as conn, conn.cursor() as cur:
        def query(sql: str, parameters) -> list[tuple]:
            cur.execute(sql, parameters)
            return cur.fetchall()

        final = online_final_through(query, f"security_stats_{topic}", topic, kafka_ends(target, topic))
        online_through = -1 if final is None else final.timestamp()
        cur.execute("SELECT min(pane_start) FROM online_pane_totals WHERE topic = %s AND pane_start >= to_timestamp(%s)",
                    (topic, since - since % 3600))
        first = cur.fetchone()[0]
    conn.close()
    if first is None:
        report(f"no online counts of {topic} to reconcile")
        return False
    hours = final_demo_hours(first, offline_through, online_through, lateness, now=datetime.now(timezone.utc))
    if not hours:
        report(f"no hour of {topic} is final on both sides yet (offline through {offline_through}, online through "
               f"{online_through}); run the reconcile DAG later")
        return True
    airflow.wait_for_dag("reconcile")
    airflow.unpause("reconcile")
    # the demo run again reconciles its hours again
    runs = {hour: airflow.run_again("reconcile", logical_date=hour + HOUR + RUN_PAST_HOUR_END) for hour in hours}
    states = {hour: airflow.wait_for_run("reconcile", run_id, timeout=900) for hour, run_id in runs.items()}
    report(f"reconciliation of {topic}, online (Storm, PostgreSQL) against offline (HadoopConsumer, Hive):")
    with psycopg2.connect(target.results_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT hour_start, status, online_records, online_expired, offline_records, offline_version, "
                    "differing_keys FROM reconciliation_hours WHERE topic = %s AND hour_start = ANY(%s) ORDER BY hour_start",
                    (topic, hours))
        rows = cur.fetchall()
    conn.close()
    for hour_start, status, online, expired, offline, version, differing in rows:
        report(f"  {hour_start:%Y-%m-%d %H}:00 UTC  {status:<10} online {online:,} (+{expired:,} expired)  "
               f"offline {offline:,} (report version {version})  differing keys: {differing}")
    failed = [f"{hour:%H}:00 {state}" for hour, state in states.items() if state != "success"]
    if failed or len(rows) != len(hours):
        report(f"reconcile runs not successful: {', '.join(failed) or 'rows missing'}; see the Airflow UI")
        return False
    report_host_hours(target, store, topic, [hour_key(hour) for hour in hours], report)
    return True


def report_host_hours(target: DemoStack, store: OffsetStore, topic: str, hours: list[str], report) -> None:
    """Print the hop-by-hop accounting per host and hour of ``hours``: host files to Storm."""
    pipeline = load_pipeline_config()
    wanted = set(hours)
    host_lines = [line for agent in target.flume.agents if agent.tier == "l1" and agent.topic == topic
                  for path in sorted(agent.log_dir.glob("*.log")) for line in path.read_bytes().split(b"\n")[:-1]]
    ends = kafka_ends(target, topic)
    with psycopg2.connect(target.results_dsn) as conn, conn.cursor() as cur:
        def query(sql, parameters):
            cur.execute(sql, parameters)
            return cur.fetchall()
        storm = storm_counts(query, topic, hours)
    conn.close()
    counts = {
        "host files": count_lines(host_lines, wanted),
        "Kafka": count_lines(kafka_lines(target.kafka_bootstrap, topic, {}, ends), wanted),
        "HDFS": count_lines(hdfs_lines(store.client, pipeline.hdfs_root, topic, hours)),
        "Hive": hive_counts(target.hive_query, pipeline.hive_database, topic, hours),
        "Storm": storm,
    }
    rows = account(counts)
    same = sum(1 for row in rows if row.verdict == "same at every hop")
    report(f"hop-by-hop accounting of {topic}, {len(rows)} host-hours: {same} the same at every hop"
           f" ({' -> '.join(HOPS)})")
    for row in [row for row in rows if row.verdict != "same at every hop"][:20]:
        report(f"  {row.line(HOPS)}")


def kafka_ends(target: DemoStack, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": target.kafka_bootstrap, "group.id": "demo"})
    try:
        return end_offsets(consumer, topic)
    finally:
        consumer.close()


def report_online_counts(target: DemoStack, topic: str, report, timeout: float = 600) -> bool:
    """Wait until the topology has counted every record of ``topic``, then print its result rows."""
    ends = kafka_ends(target, topic)
    dsn = target.results_dsn
    name = f"security_stats_{topic}"
    deadline = time.monotonic() + timeout
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        while True:
            cur.execute("SELECT partition, next_offset FROM online_offsets WHERE topology = %s", (name,))
            stored = dict(cur.fetchall())
            conn.rollback()
            if stored == ends:
                break
            if time.monotonic() > deadline:
                report(f"the {name} topology counted {stored} of {ends} within {timeout:.0f}s")
                return False
            time.sleep(2)
        cur.execute("SELECT sum(records), sum(late_records), sum(expired_records), count(*) FROM online_pane_totals "
                    "WHERE topic = %s", (topic,))
        records, late, expired, panes = cur.fetchone()
        cur.execute("SELECT reason, sum(records) FROM online_bad_records WHERE topic = %s GROUP BY reason "
                    "ORDER BY reason", (topic,))
        bad = ", ".join(f"{reason} {count}" for reason, count in cur.fetchall())
        cur.execute("SELECT window_end, host, records FROM online_window_top_hosts WHERE topic = %s AND rank <= 3 "
                    "AND window_end = (SELECT max(window_end) FROM online_window_totals WHERE topic = %s) "
                    "ORDER BY rank", (topic, topic))
        top = cur.fetchall()
    conn.close()
    report(f"online statistics of {topic} (Storm -> PostgreSQL, exactly once): {records:,} records in {panes} "
           f"one-minute panes ({late:,} late, {expired:,} expired); malformed: {bad or 'none'}")
    for window_end, host, count in top:
        report(f"  top host of the 5 minutes to {window_end:%H:%M}: {host} ({count:,} records)")
    return True
