"""The chaos run with nobody acting (issue #19): on the local stack, with its scheduled DAGs doing
the repairs, the parts are crashed one after another under a steady feed of log lines; for each one
it prints when it was back and when its incident and recovery e-mails came, and counts those
e-mails; then every line written is followed to Kafka, HDFS and the online counts.

    PYTHONPATH=plugins .venv/bin/python bench/chaos_airflow.py [--rate 100] [--only kafka,hive]

What crashes (SIGKILL, so the pid file stays) and what brings it back:
- an L2 agent: ``flume_tiers_health`` (every 5 minutes);
- Storm's Nimbus, then its Supervisor: ``storm_topologies``' ``storm_daemons`` (every 5 minutes);
- a Storm worker of the topology: Storm itself (seconds; no check may see it);
- the Kafka broker, HDFS (NameNode and DataNode are one MiniDFSCluster), Spark's Thrift server
  (Hive), ZooKeeper: ``services_health`` (every 2 minutes);
- PostgreSQL (Airflow's own database and the result store): the stack's keeper (seconds), and the
  next ``services_health`` run names the restart.
- a running HadoopConsumer task (a partition's batch): the task's retry (no check may see it).
Not here: an L1 (its lost memory channel is refilled by ``flume_line_gaps`` after
``gap_delay_minutes``, 20; the refill tests cover it).

Each part's outage should give exactly one incident e-mail and one recovery e-mail; other incidents
that opened meanwhile (a consumer partition failing while Kafka is away) are listed with it. The
lines carry hosts of their own (10.250.<run>.x) and StartTimes of the moment they are written, so
their accounting is apart from earlier data; run it on a stack nothing else feeds. It unpauses
``services_health``, ``storm_topologies``, ``flume_tiers_health`` and ``hadoop_consumer`` and pauses
the other scheduled DAGs. Exits 1 if a line is lost or counted twice, or an outage did not mail
exactly once each way.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import hdfs
import psycopg2
from confluent_kafka import Consumer

from logstream.flume.host_logs import append_to_hosts
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_partitions import end_offsets
from logstream.pipeline_config import load_pipeline_config
from logstream.reconciliation.host_hours import count_lines, hdfs_lines, hour_of, kafka_lines, storm_counts
from logstream.stack.airflow_api import SCHEDULED_DAGS, AirflowApi
from logstream.stack.local_stack import LocalStack
from logstream.stack.postgres import Postgres
from logstream.stack.process import running_processes
from logstream.stack.storm import worker_pids

REPAIRING_DAGS = ("services_health", "storm_topologies", "flume_tiers_health", "hadoop_consumer")
MAIL_WAIT_SECONDS = 900


@dataclass
class Outage:
    part: str
    incident: str | None  # the incident its repair opens; None: healed before any check can see it
    crash: Callable[[], str]  # SIGKILLs it; what was killed
    back: Callable[[], bool]  # it runs and answers again
    times: dict[str, float] = field(default_factory=dict)
    mails: Counter = field(default_factory=Counter)
    side_incidents: list[str] = field(default_factory=list)


def sigkill(process) -> str:
    return f"{process.name} (pid {process.crash()})"


def task_process(ti_id: str) -> int | None:
    """The pid of the process running the task instance ``ti_id`` (its title: ``airflow worker -- <id>``;
    the executor's worker that supervises it says ``LocalExecutor:`` before the id)."""
    for process in running_processes():
        if process.command() == f"airflow worker -- {ti_id}":
            return process.pid
    return None


def outages(stack: LocalStack, topology: str, airflow: AirflowApi) -> list[Outage]:
    flume, storm = stack.service("flume"), stack.service("storm")
    nimbus = storm.nimbus()
    l2 = flume.tiers.pipeline.flume.l2_agents[0]
    killed_workers: set[int] = set()

    def worker_crash() -> str:
        pids = worker_pids(nimbus.topology_id(topology) or "")
        if not pids:
            raise RuntimeError(f"no worker of {topology} runs")
        os.kill(pids[0], signal.SIGKILL)
        killed_workers.update(pids)
        return f"worker pid {pids[0]}"

    def worker_back() -> bool:
        return bool(set(worker_pids(nimbus.topology_id(topology) or "")) - killed_workers)

    killed_task: dict = {}

    def consumer_task_crash() -> str:
        def running() -> tuple[dict, int] | None:
            for ti in airflow.task_instances("hadoop_consumer", "~", state="running"):
                pid = task_process(ti["id"]) if ti["task_id"].startswith("consume_") else None
                if pid is not None:
                    return ti, pid
            return None

        ti, pid = wait(running, 900, "a consume task running (hadoop_consumer every 5 minutes)")
        os.kill(pid, signal.SIGKILL)
        killed_task.update(ti)
        return f"{ti['task_id']}[{ti['map_index']}] of {ti['dag_run_id']} (pid {pid})"

    def consumer_task_back() -> bool:
        return any(ti["task_id"] == killed_task["task_id"] and ti["map_index"] == killed_task["map_index"]
                   and ti["state"] == "success"
                   for ti in airflow.task_instances("hadoop_consumer", killed_task["dag_run_id"]))

    def service(name: str) -> Outage:
        part = stack.service(name)
        return Outage(name, f"services_health.{name}", lambda: sigkill(part.process),
                      lambda: part.is_complete() and part.health().ok)

    return [
        Outage(f"Flume L2 {l2}", "flume_tiers_health.health_check", lambda: sigkill(flume.tiers.process(l2)),
               lambda: flume.tiers.answers(l2)),
        Outage("Storm Nimbus", "storm_topologies.storm_daemons", lambda: sigkill(storm.nimbus_process),
               lambda: storm.nimbus_process.is_running() and storm.health().ok),
        Outage("Storm Supervisor", "storm_topologies.storm_daemons", lambda: sigkill(storm.supervisor_process),
               lambda: storm.supervisor_process.is_running() and storm.health().ok),
        Outage("Storm worker", None, worker_crash, worker_back),
        service("kafka"), service("hdfs"), service("hive"), service("zookeeper"),
        Outage("HadoopConsumer task", None, consumer_task_crash, consumer_task_back),
        Outage("postgres", "services_health.postgres", lambda: sigkill(stack.service("postgres").process),
               lambda: stack.service("postgres").health().ok and stack.service("airflow").health().ok),
    ]


class Feeder(threading.Thread):
    """Appends ``rate`` lines a second to the front-end hosts' files until stopped; keeps every line."""

    def __init__(self, pipeline, home, topic: str, rate: int, run_number: int) -> None:
        super().__init__(daemon=True)
        self.pipeline, self.home, self.topic, self.rate, self.run_number = pipeline, home, topic, rate, run_number
        self.lines: list[bytes] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        rng = random.Random(self.run_number)
        while not self.stopped.is_set():
            now = int(time.time())
            chunk = [b"10.250.%d.%d,%d,%d,300" % (self.run_number, rng.randrange(1, 21), 1019491 + 17 * rng.randrange(5),
                                                  now - rng.randrange(20)) for _ in range(self.rate)]
            append_to_hosts(self.pipeline, self.home, chunk, topic=self.topic)
            self.lines += chunk
            self.stopped.wait(1)


def mails_since(maildir: mailbox.Maildir, before: set[str]) -> list[str]:
    return [maildir[key]["Subject"] for key in set(maildir.keys()) - before]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100, help="lines a second into the hosts' files")
    parser.add_argument("--only", default="", help="comma-separated parts to crash (default: all)")
    args = parser.parse_args()

    stack = LocalStack()
    stack.up()
    config = stack.config
    pipeline = load_pipeline_config()
    topic = pipeline.flume.hosts[0].topic
    topology = f"security_stats_{topic}"
    airflow = AirflowApi.for_stack(config)
    for dag_id in SCHEDULED_DAGS:
        (airflow.unpause if dag_id in REPAIRING_DAGS else airflow.pause)(dag_id)
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    began = time.monotonic()

    def say(line: str) -> None:
        print(f"t+{time.monotonic() - began:7.1f}s {line}", flush=True)

    nimbus = stack.service("storm").nimbus()
    say(f"scheduled DAGs: {', '.join(REPAIRING_DAGS)} unpaused, the others paused; waiting for {topology} ...")
    wait(lambda: nimbus.topology_id(topology), 900, f"{topology} running (storm_topologies deploys it)")
    bootstrap = config.kafka_bootstrap
    starts = kafka_end_offsets(bootstrap, topic)
    run = random.randrange(256)
    feeder = Feeder(pipeline, stack.service("flume").tiers.home, topic, args.rate, run)
    feeder.start()
    say(f"feeding {args.rate} lines/s (hosts 10.250.{run}.x) into the front-end hosts' files; Kafka at {starts}")

    chosen = [o for o in outages(stack, topology, airflow) if not args.only or any(w in o.part.lower() for w in args.only.split(","))]
    failures = []
    try:
        for outage in chosen:
            wait(lambda: len(feeder.lines) >= args.rate * 30, 120, "the feed going")
            before = set(maildir.keys())
            killed = outage.crash()  # (a running task is waited for first)
            t0 = time.monotonic()
            say(f"{outage.part}: SIGKILL {killed}")
            wait(outage.back, MAIL_WAIT_SECONDS, f"{outage.part} back")
            outage.times["back"] = time.monotonic() - t0
            say(f"{outage.part}: back after {outage.times['back']:.0f}s")
            if outage.incident is not None:
                for kind in ("incident", "recovered"):
                    prefix = f"[logstream] {kind}: {outage.incident} "
                    wait(lambda: any(s.startswith(prefix) for s in mails_since(maildir, before)), MAIL_WAIT_SECONDS,
                         f"the {kind} e-mail of {outage.incident}")
                    outage.times[kind] = time.monotonic() - t0
                    say(f"{outage.part}: {kind} e-mail after {outage.times[kind]:.0f}s")
            subjects = mails_since(maildir, before)
            for subject in subjects:
                if outage.incident is not None and f": {outage.incident} " in subject:
                    outage.mails[subject.split(":")[0].removeprefix("[logstream] ")] += 1
                elif subject.startswith(("[logstream] incident:", "[logstream] recovered:")):
                    outage.side_incidents.append(subject)
            if outage.incident is not None and outage.mails != Counter(incident=1, recovered=1):
                failures.append(f"{outage.part}: e-mails {dict(outage.mails)}, not one incident and one recovery")
    finally:
        feeder.stopped.set()
        feeder.join()
    lines = feeder.lines
    say(f"feed stopped: {len(lines):,} lines written")

    ends = wait(lambda: (e := kafka_end_offsets(bootstrap, topic)) and sum(e.values()) - sum(starts.values()) >= len(lines)
                and e, 900, "every line in Kafka")
    client = hdfs.InsecureClient(f"http://{config.host}:{config.ports['hdfs_http']}", user="root", timeout=30)
    store = OffsetStore(client, pipeline.hdfs_root)
    # a partition no line went to keeps offset -1: at its end 0
    wait(lambda: all((store.read(topic, p) or None) and max(store.read(topic, p).offset, 0) >= ends[p] for p in ends), 1200,
         "the HadoopConsumer at Kafka's end (hadoop_consumer every 5 minutes)")
    dsn = Postgres(config).dsn("logstream")
    wait(lambda: online_offsets(dsn, topology) == ends, 1200, f"{topology} at Kafka's end")
    say("the HadoopConsumer and the topology are at Kafka's end")

    mine = f"10.250.{run}."
    hours = sorted({hour_of(int(line.split(b",")[2])) for line in lines})

    def own(counts: Counter) -> int:
        return sum(n for (host, hour), n in counts.items() if host.startswith(mine) and hour in hours)

    written = own(count_lines(lines))
    in_kafka = own(count_lines(kafka_lines(bootstrap, topic, starts, ends)))
    in_hdfs = own(count_lines(hdfs_lines(client, pipeline.hdfs_root, topic, hours)))
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        def query(sql, parameters):
            cur.execute(sql, parameters)
            return cur.fetchall()
        online = own(storm_counts(query, topic, hours))
        cur.execute("SELECT coalesce(sum(expired_records), 0) FROM online_pane_totals WHERE topic = %s AND "
                    "to_char(pane_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') = ANY(%s)", (topic, hours))
        expired = int(cur.fetchone()[0])
    conn.close()

    print("\npart                 back   incident  recovered  e-mails (incident/recovery)  other incidents meanwhile")
    for o in chosen:
        t = o.times
        print(f"{o.part:<20} {t['back']:5.0f}s {t.get('incident', float('nan')):8.0f}s {t.get('recovered', float('nan')):9.0f}s"
              f"  {o.mails['incident']}/{o.mails['recovered']}{'' if o.incident else ' (healed before a check)'}"
              f"{'':<24}{'; '.join(o.side_incidents) or '-'}")
    print(f"\nlines written {written:,}; in Kafka (each line id once) {in_kafka:,}; in HDFS {in_hdfs:,}; "
          f"online {online:,} counted + {expired:,} expired in those hours")
    if not (written == in_kafka == in_hdfs):
        failures.append(f"lines: written {written}, Kafka {in_kafka}, HDFS {in_hdfs}")
    if online + expired != written or online > written:
        failures.append(f"online: {online} counted + {expired} expired for {written} lines")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


def kafka_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "logstream-chaos-airflow"})
    try:
        return end_offsets(consumer, topic)
    finally:
        consumer.close()


def online_offsets(dsn: str, topology: str) -> dict[int, int]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT partition, next_offset FROM online_offsets WHERE topology = %s", (topology,))
        rows = dict(cur.fetchall())
    conn.close()
    return rows


def wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - a service on its way back
            value = None
        if value:
            return value
        time.sleep(1)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
