"""The chaos run: the whole pipeline on the local stack while its parts are killed and restarted,
then proof that nothing was lost (``bench/chaos_run.py`` runs it long, the tests run it short).

On a topic, Flume tiers, a topology and a HadoopConsumer of its own (the stack's services are
shared: the Kafka broker and HDFS are restarted for everyone), while generated log lines are
appended to the simulated hosts' files:

- an L2 agent is SIGKILLed (its file channel keeps what it accepted; the L1s fail over) and started again,
- the topology's worker is SIGKILLed (Storm restarts it; it resumes from its committed offsets),
- the HadoopConsumer's process is SIGKILLed mid-batch and started again (recovery under its lease),
- the Kafka broker is stopped and started,
- HDFS (namenode and datanode) is stopped and started.

Afterwards: every committed offset landed in HDFS exactly once (``landed_offsets``), every host and
hour has at least as many lines in Kafka as in the host files (Flume may re-send a line, never lose
one; a re-sent line counts once by its line id) and exactly as many in HDFS and in the topology's
counts as in Kafka (``host_hours``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import hdfs
import psycopg2
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from logstream.flume.host_logs import append_to_hosts
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_topics import ensure_topic
from logstream.pipeline_config import FlumeHost, FlumeSettings, TopicConfig, load_pipeline_config
from logstream.reconciliation.host_hours import account, count_lines, hdfs_lines, kafka_lines, storm_counts
from logstream.reconciliation.landed_offsets import audit_topic
from logstream.stack.config import StackConfig
from logstream.stack.flume import FlumeTiers
from logstream.stack.local_stack import LocalStack
from logstream.stack.postgres import Postgres
from logstream.stack.storm import worker_pids
from logstream.storm.deployment import deploy

PARTITIONS = 2


@dataclass
class ChaosReport:
    events: list[str] = field(default_factory=list)
    lines_written: int = 0
    problems: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    def event(self, what: str, began: float, say) -> None:
        line = f"t+{time.monotonic() - began:6.1f}s {what}"
        self.events.append(line)
        say(line)


def _tiers(config: StackConfig, name: str, slot: int) -> FlumeTiers:
    pipeline = load_pipeline_config()
    flume = FlumeSettings(
        hosts=tuple(FlumeHost(name=f"{name}_{host}", topic=name, log_dir=f"hosts/{host}") for host in ("web1", "web2")),
        l2_agents=(f"{name}_l2a", f"{name}_l2b"), batch_size=500, idle_timeout_ms=120_000,
        memory_channel_capacity=20_000, file_channel_capacity=200_000, minimum_free_megabytes=100, max_penalty_ms=5_000,
    )
    pipeline = replace(pipeline, topics=(TopicConfig(name=name, partitions=PARTITIONS),), flume=flume)
    return FlumeTiers(stack=config, pipeline=pipeline, home=config.data_dir / "chaos" / name,
                      avro_base_port=config.ports["flume_avro"] + 20 + 10 * slot,
                      metrics_base_port=config.ports["flume_metrics"] + 20 + 10 * slot)


def consume_forever(bootstrap: str, webhdfs: str, zookeeper: str, root: str, topic: str) -> None:
    """The HadoopConsumer's loop in a process of its own (``python -m logstream.chaos consume ...``):
    batches on every partition, again and again; a failed batch (Kafka or HDFS away) is retried."""
    from logstream.hadoop_consumer.batch_result import BatchLimits
    from logstream.hadoop_consumer.consumer import HadoopConsumer

    client = hdfs.InsecureClient(webhdfs, user="root", timeout=30)
    consumer = HadoopConsumer({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10_000}, client, root,
                              zookeeper_hosts=zookeeper, lease_wait=60, progress=lambda line: print(line, flush=True))
    while True:
        try:
            consumer.initialize(topic)
            for partition in range(PARTITIONS):
                consumer.run_batch(topic, partition, BatchLimits(max_records=2_000, stall_timeout=10))
        except Exception as err:  # noqa: BLE001 - the loop outlives Kafka's and HDFS's restarts
            print(f"batch failed, again in 1 s: {err!r}", flush=True)
            time.sleep(1)
        time.sleep(0.5)


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "logstream-chaos"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in range(PARTITIONS)}
    finally:
        consumer.close()


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - a service still coming back
            pass
        time.sleep(1)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")


def run_chaos(config: StackConfig, *, name: str, lines: int, seconds: float, slot: int = 5,
              say=print) -> ChaosReport:
    """Feed ``lines`` generated log lines over ``seconds`` while killing and restarting the parts."""
    stack = LocalStack(config)
    report = ChaosReport()
    bootstrap = config.kafka_bootstrap
    webhdfs = f"http://{config.host}:{config.ports['hdfs_http']}"
    zookeeper = f"{config.host}:{config.ports['zookeeper']}"
    root = f"/chaos/{name}"
    rng = random.Random(name)
    hour_start = int(time.time()) // 3600 * 3600 - 6 * 3600
    values = [b"10.66.%d.%d,%d,%d,300" % (rng.randrange(4), rng.randrange(1, 20), 1019491 + 17 * rng.randrange(5),
                                          hour_start + 7200 * i // lines + rng.randrange(60)) for i in range(lines)]
    hours = sorted({time.strftime("%Y-%m-%dT%H", time.gmtime(hour_start + 3600 * h)) for h in range(3)})
    ensure_topic(AdminClient({"bootstrap.servers": bootstrap}), name, PARTITIONS)
    tiers = _tiers(config, name, slot)
    tiers.prepare_hosts()
    storm = stack.service("storm")
    nimbus = storm.nimbus()
    dsn = Postgres(config).dsn("logstream")
    consumer_argv = [sys.executable, "-m", "logstream.chaos", "consume", bootstrap, webhdfs, zookeeper, root, name]
    consumer_log = (config.data_dir / "chaos" / f"{name}-consumer.log")
    consumer_log.parent.mkdir(parents=True, exist_ok=True)

    def start_consumer() -> subprocess.Popen:
        return subprocess.Popen(consumer_argv, stdout=consumer_log.open("a"), stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})

    began = time.monotonic()
    consumer = None
    try:
        tiers.deploy()
        tiers.wait_answering()
        deployment = deploy(nimbus=nimbus, name=name, topic=name, kafka_bootstrap=bootstrap, results_dsn=dsn,
                            jar_dir=config.data_dir / "storm" / "jars", overrides={"flush_records": 2_000})
        report.event(f"topology {deployment.topology_id} deployed, Flume tiers up", began, say)
        consumer = start_consumer()
        report.event(f"HadoopConsumer process {consumer.pid} started", began, say)

        slices = 20
        def feed() -> None:
            for number in range(slices):
                chunk = values[lines * number // slices: lines * (number + 1) // slices]
                report.lines_written += sum(append_to_hosts(tiers.pipeline, tiers.home, chunk, topic=name).values())
                time.sleep(seconds / slices)
        feeder = threading.Thread(target=feed)
        feeder.start()
        step = seconds / 6

        time.sleep(step)
        victim = tiers.pipeline.flume.l2_agents[0]
        tiers.kill(victim)
        report.event(f"SIGKILL Flume L2 agent {victim}", began, say)
        time.sleep(step / 2)
        tiers.start(victim)
        tiers.wait_answering([victim])
        report.event(f"Flume L2 agent {victim} started again", began, say)

        _wait(lambda: worker_pids(deployment.topology_id), 300, "a Storm worker")
        pid = worker_pids(deployment.topology_id)[0]
        os.kill(pid, signal.SIGKILL)
        report.event(f"SIGKILL Storm worker {pid}", began, say)

        time.sleep(step / 2)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        report.event(f"SIGKILL HadoopConsumer process {consumer.pid}", began, say)
        consumer = start_consumer()
        report.event(f"HadoopConsumer process {consumer.pid} started again", began, say)

        for service, what in (("kafka", "Kafka broker"), ("hdfs", "HDFS")):
            time.sleep(step / 2)
            stack.service(service).stop()
            report.event(f"{what} stopped", began, say)
            stack.service(service).launch()
            stack.service(service).wait_healthy()
            report.event(f"{what} started again and healthy", began, say)

        feeder.join()
        report.event(f"all {report.lines_written:,} lines written to the hosts' files", began, say)
        _wait(lambda: sum(_end_offsets(bootstrap, name).values()) >= report.lines_written, 900, "every line in Kafka")
        ends = _end_offsets(bootstrap, name)
        report.event(f"Kafka holds {sum(ends.values()):,} records {ends}", began, say)
        client = hdfs.InsecureClient(webhdfs, user="root", timeout=30)
        store = OffsetStore(client, root)
        # a partition that got no line (the hosts take the partitions in turn) keeps offset -1: at its end 0
        _wait(lambda: all((store.read(name, p) or None) and max(store.read(name, p).offset, 0) == ends[p] for p in ends),
              900, "the HadoopConsumer at Kafka's end")
        report.event("HadoopConsumer committed up to Kafka's end", began, say)
        def online_offsets() -> dict[int, int]:
            with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
                cur.execute("SELECT partition, next_offset FROM online_offsets WHERE topology = %s", (name,))
                rows = dict(cur.fetchall())
            conn.close()
            return rows
        _wait(lambda: online_offsets() == ends, 900, "the topology at Kafka's end")
        report.event("topology committed up to Kafka's end", began, say)

        audits = audit_topic(client, root, name, PARTITIONS, kafka_starts={p: 0 for p in range(PARTITIONS)}, progress=say)
        report.problems += [f"{a.topic}[{a.partition}]: {p}" for a in audits for p in a.problems]
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            def query(sql, parameters):
                cur.execute(sql, parameters)
                return cur.fetchall()
            storm = storm_counts(query, name, hours)
            # per hour, every valid record is in the topology's pane totals: counted, or expired
            # (a failover can re-send a batch past the allowed lateness: in no host's count then)
            cur.execute("SELECT to_char(pane_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24'), "
                        "sum(records + expired_records) FROM online_pane_totals WHERE topic = %s GROUP BY 1", (name,))
            storm_per_hour = {hour: int(total) for hour, total in cur.fetchall()}
        conn.close()
        counts = {"host files": count_lines(values, set(hours)),
                  "Kafka": count_lines(kafka_lines(bootstrap, name, {}, ends), set(hours)),
                  "HDFS": count_lines(hdfs_lines(client, root, name, hours)), "Hive": None, "Storm": storm}
        report.totals = {hop: sum(c.values()) for hop, c in counts.items() if c is not None}
        for row in account(counts):
            files, in_kafka, in_hdfs, _, _ = row.counts
            if in_kafka < files or in_hdfs != in_kafka:
                report.problems.append(f"{row.host} {row.hour}: files {files}, Kafka {in_kafka}, HDFS {in_hdfs}: {row.verdict}")
        kafka_per_hour = Counter()
        for (_, hour), count in counts["Kafka"].items():
            kafka_per_hour[hour] += count
        for hour in hours:
            if storm_per_hour.get(hour, 0) != kafka_per_hour.get(hour, 0):
                report.problems.append(f"{hour}: Kafka {kafka_per_hour.get(hour, 0)} valid records, the topology's "
                                       f"panes {storm_per_hour.get(hour, 0)} (counted + expired)")
        report.event(f"checked: {len(report.problems)} problem(s); records per hop {report.totals}", began, say)
        return report
    finally:
        if consumer is not None and consumer.poll() is None:
            consumer.kill()
            consumer.wait()
        tiers.stop()
        try:
            nimbus.kill(name, wait_secs=0)
        except Exception as err:  # noqa: BLE001 - reported, the run's outcome stands
            say(f"could not kill topology {name}: {err!r}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["consume"]:
        consume_forever(*sys.argv[2:7])
    else:
        raise SystemExit("usage: python -m logstream.chaos consume BOOTSTRAP WEBHDFS ZOOKEEPER ROOT TOPIC")
