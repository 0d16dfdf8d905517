"""Flume tiers throughput: lines appended to host log files -> L1 (TAILDIR, memory channel, Avro)
-> L2 (Avro, file channel, Kafka sink acks=all) -> Kafka, beside Kafka's own producer in the same run.

    PYTHONPATH=plugins .venv/bin/python bench/flume_tiers_bench.py [--lines 1000000] [--warmup-lines 1000000]
        [--batch-size 1000] [--kafka-sinks 2] [--heap 256m] [--l2-agents 2] [--rate 0] [--jvm-option OPT ...] [--profile DIR]
        [--l1-channel memory|file] [--cluster]

Starts tiers of its own (2 hosts, ``--l2-agents`` L2s, a fresh topic of 3 partitions, ports of the
stack's Flume base + 110) with the given batch size / Kafka sinks per L2 / heap, first delivers
``--warmup-lines`` unmeasured (the agents' JIT compilers busy a core for a minute after a start;
the cold rate is printed too), then appends ``--lines``
~40-byte entries to the two hosts' files (as fast as Python writes, or at ``--rate`` lines/s), and
waits until the topic's end offsets hold them all. Reports lines/s from the first write to the last
record in Kafka, the end-to-end delay (Kafka record timestamp minus the write time carried in the
line's Configuration ID field, sampled), the CPU seconds each agent JVM used, how the machine's CPU
time was spent meanwhile (user, system, idle, steal), and
``kafka-producer-perf-test`` (org.apache.kafka.tools.ProducerPerformance, acks=all, same record size)
into another fresh topic as the baseline. Durability is kept: file channel fsync per transaction,
acks=all. Compare the ratio, not the absolute rates: the machine is shared. ``--profile DIR``
records each agent with Java Flight Recorder and prints where its CPU samples fell.

``--cluster``: on the multi-host cluster (``python -m logstream cluster up``, as root): the L1s on
the front-end hosts, the L2s on the collector hosts (their configurations fetched from ZooKeeper),
both topics at replication 3 on its 3 brokers (the baseline produces to the same brokers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.flume.hops import kafka_end_offsets
from logstream.pipeline_config import FlumeHost, FlumeSettings, TopicConfig, load_pipeline_config
from logstream.stack.config import StackConfig
from logstream.stack.flume import FlumeTiers

PARTITIONS = 3
RECORD_SIZE = 40


def line(host: int, seq: int, write_ms: int) -> bytes:
    # Configuration ID = the write time in ms: a valid entry whose delay can be read back from Kafka
    return f"10.{host}.{seq // 250 % 250}.{seq % 250},{write_ms},{write_ms // 1000},300".encode()


def append_lines(tiers: FlumeTiers, total: int, rate: float) -> float:
    """Appends ``total`` lines over the hosts' app.log files; returns when the first one was written."""
    hosts = [agent for agent in tiers.agents if agent.tier == "l1"]
    handles = [open(agent.log_dir / "app.log", "ab") for agent in hosts]
    first = time.time()
    chunk = 5_000
    written = 0
    try:
        while written < total:
            now_ms = int(time.time() * 1000)
            for index, handle in enumerate(handles):
                count = min(chunk, total - written)
                if count <= 0:
                    break
                handle.write(b"".join(line(index, written + i, now_ms) + b"\n" for i in range(count)))
                handle.flush()
                written += count
            if rate:
                # paced load: keep to ``rate`` lines/s on average
                ahead = written / rate - (time.time() - first)
                if ahead > 0:
                    time.sleep(ahead)
    finally:
        for handle in handles:
            handle.close()
    return first


def wait_delivered(admin: AdminClient, topic: str, total: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        landed = kafka_end_offsets(admin, [topic])[topic]
        if landed >= total:
            return time.time()
        if time.monotonic() - last_report > 10:
            print(f"  ... {landed:,} of {total:,} in Kafka", flush=True)
            last_report = time.monotonic()
        time.sleep(0.2)
    raise TimeoutError(f"only {kafka_end_offsets(admin, [topic])[topic]:,} of {total:,} lines reached {topic}")


def delays_ms(bootstrap: str, topic: str, sample_every: int, written_since_ms: int) -> list[int]:
    """Kafka timestamp minus write time of every ``sample_every``-th line written since ``written_since_ms``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench_{topic}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    delays, seen = [], 0
    try:
        while messages := consumer.consume(num_messages=10_000, timeout=3.0):
            for message in messages:
                written_ms = int(message.value().split(b",")[1])
                if written_ms < written_since_ms:
                    continue
                seen += 1
                if seen % sample_every == 0:
                    delays.append(message.timestamp()[1] - written_ms)
    finally:
        consumer.close()
    return delays


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> list[int]:
    """The machine's CPU time so far (/proc/stat), in ticks: user, nice, system, idle, iowait, irq, softirq, steal."""
    return [int(ticks) for ticks in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def machine_shares(before: list[int], after: list[int]) -> str:
    """How the machine's CPU time between two ``machine_cpu()`` readings was spent; steal is time the
    hypervisor gave to other tenants while this machine had work (a busy neighbourhood)."""
    spent = [b - a for a, b in zip(before, after)]
    total = sum(spent) or 1
    user, nice, system, idle, iowait, irq, softirq, steal = (ticks / total for ticks in spent)
    return (f"user {user + nice:.0%}, system {system + irq + softirq:.0%}, idle {idle + iowait:.0%}, "
            f"steal {steal:.0%}")


def producer_perf_test(config: StackConfig, admin: AdminClient, records: int, *, bootstrap: str | None = None,
                       replication: int = 1) -> float:
    topic = f"bench_producer_{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, PARTITIONS, replication)])[topic].result()
    argv = [config.java(), "-Xmx512m", "-cp", config.classpath("kafka"), "org.apache.kafka.tools.ProducerPerformance",
            "--topic", topic, "--num-records", str(records), "--record-size", str(RECORD_SIZE), "--throughput", "-1",
            "--producer-props", f"bootstrap.servers={bootstrap or config.kafka_bootstrap}", "acks=all"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    summary = done.stdout.strip().splitlines()[-1]
    print(f"  kafka-producer-perf-test: {summary}")
    return float(re.search(r"([0-9.]+) records/sec", summary).group(1))


def jfr_options(directory: Path) -> tuple[str, ...]:
    directory.mkdir(parents=True, exist_ok=True)
    return (f"-XX:StartFlightRecording=settings=profile,filename={directory}/{{name}}.jfr,dumponexit=true",)


def profile_report(java: str, recording: Path, top: int = 25) -> str:
    """The methods an agent's CPU samples (``jdk.ExecutionSample``) were in: own time and inclusive;
    read with the ``jfr`` tool beside ``java`` (the JDK the agents ran on)."""
    jfr = Path(os.path.realpath(java)).parent / "jfr"
    printed = subprocess.run([str(jfr), "print", "--json", "--events", "jdk.ExecutionSample", str(recording)],
                             capture_output=True, text=True, check=True).stdout
    samples = json.loads(printed)["recording"]["events"]
    own, inclusive = Counter(), Counter()
    for sample in samples:
        frames = [f"{frame['method']['type']['name']}.{frame['method']['name']}"
                  for frame in sample["values"]["stackTrace"]["frames"]]
        if frames:
            own[frames[0]] += 1
            inclusive.update(set(frames))
    total = len(samples) or 1
    lines = [f"{recording.stem}: {len(samples)} CPU samples", "  own time:"]
    lines += [f"    {count / total:6.1%} {method}" for method, count in own.most_common(top)]
    lines += ["  inclusive:"] + [f"    {count / total:6.1%} {method}" for method, count in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--warmup-lines", type=int, default=1_000_000,
                        help="lines to deliver first, unmeasured (the agents' JIT warm-up)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--kafka-sinks", type=int, default=FlumeSettings().kafka_sinks_per_l2, help="Kafka sinks per L2")
    parser.add_argument("--l2-agents", type=int, default=2)
    parser.add_argument("--heap", default="256m")
    parser.add_argument("--rate", type=float, default=0, help="lines/s to append at (0: as fast as possible)")
    parser.add_argument("--checkpoint-ms", type=int, default=30_000)
    parser.add_argument("--l1-channel", choices=("memory", "file"), default="memory",
                        help="the L1's channel: memory (lost on a kill, refilled by flume_line_gaps) or file")
    parser.add_argument("--jvm-option", action="append", default=[], help="an option for every agent's JVM (repeatable)")
    parser.add_argument("--profile", type=Path, help="record every agent with Java Flight Recorder into this "
                        "directory and print where each agent's CPU samples are (top frames and callers)")
    parser.add_argument("--cluster", action="store_true", help="on the multi-host cluster (3 brokers, replication 3)")
    args = parser.parse_args()

    config = StackConfig()
    bootstrap, replication, placed = config.kafka_bootstrap, 1, {}
    name = f"bench_flume_{uuid.uuid4().hex[:6]}"
    if args.cluster:
        from logstream.cluster.cluster import Cluster

        cluster = Cluster()
        cluster.up()
        bootstrap, replication = cluster.kafka_bootstrap, 3
        placed = {f"{name}_web{i}": cluster.frontends[i - 1] for i in (1, 2)}
        placed.update({f"{name}_l2{chr(97 + i)}": cluster.collectors[i % len(cluster.collectors)]
                       for i in range(args.l2_agents)})
    admin = AdminClient({"bootstrap.servers": bootstrap})
    flume = FlumeSettings(
        hosts=tuple(FlumeHost(name=f"{name}_web{i}", topic=name, log_dir=f"hosts/web{i}") for i in (1, 2)),
        l2_agents=tuple(f"{name}_l2{chr(97 + i)}" for i in range(args.l2_agents)),
        batch_size=args.batch_size, memory_channel_capacity=max(100_000, 20 * args.batch_size),
        file_channel_capacity=max(1_000_000, args.lines), minimum_free_megabytes=500,
        kafka_sinks_per_l2=args.kafka_sinks, checkpoint_interval_ms=args.checkpoint_ms, l1_channel=args.l1_channel,
    )
    pipeline = replace(load_pipeline_config(), topics=(TopicConfig(name, PARTITIONS),), flume=flume)
    tiers = FlumeTiers(stack=config, pipeline=pipeline, home=config.data_dir / "flume_bench" / name,
                       avro_base_port=config.ports["flume_avro"] + 110,
                       metrics_base_port=config.ports["flume_metrics"] + 110, heap=args.heap,
                       java_options=(*args.jvm_option, *(jfr_options(args.profile) if args.profile else ())),
                       agent_hosts=placed, kafka_bootstrap=bootstrap,
                       config_zookeeper=cluster.zookeeper_hosts if args.cluster else "",
                       config_path=f"/logstream/flume_bench/{name}")
    print(f"flume tiers bench: {args.lines:,} lines, batch {args.batch_size}, {args.l2_agents} L2 x "
          f"{args.kafka_sinks} Kafka sink(s), L1 {args.l1_channel} channel, heap {args.heap}, rate {args.rate or 'max'}, "
          f"JVM options {' '.join(args.jvm_option) or 'none'}", flush=True)
    tiers.prepare_hosts()
    tiers.ensure_topics(replication)
    try:
        tiers.deploy()
        tiers.wait_answering()
        if args.warmup_lines:
            # the agents' JIT compilers keep a core busy for a minute or more after a start (two cores
            # shared by four agents and Kafka): a long-running agent's rate is the one after that
            began = append_lines(tiers, args.warmup_lines, args.rate)
            warm = wait_delivered(admin, name, args.warmup_lines, timeout=max(600.0, args.warmup_lines / 1000))
            print(f"  warm-up: {args.warmup_lines:,} lines in Kafka after {warm - began:.1f}s: "
                  f"{args.warmup_lines / (warm - began):,.0f} lines/s (cold agents)", flush=True)
        cpu_before = {a.name: cpu_seconds(tiers.process(a.name).pid()) for a in tiers.agents}
        machine_before = machine_cpu()
        first = append_lines(tiers, args.lines, args.rate)
        wrote = time.time()
        done = wait_delivered(admin, name, args.warmup_lines + args.lines, timeout=max(600.0, args.lines / 1000))
        cpu = {a.name: cpu_seconds(tiers.process(a.name).pid()) - cpu_before[a.name] for a in tiers.agents}
        machine = machine_shares(machine_before, machine_cpu())
    finally:
        tiers.stop()
    seconds = done - first
    delays = sorted(delays_ms(bootstrap, name, sample_every=max(1, args.lines // 20_000),
                              written_since_ms=int(first * 1000)))
    flume_rate = args.lines / seconds
    print(f"  appended {args.lines:,} lines in {wrote - first:.1f}s; all in Kafka after {seconds:.1f}s: "
          f"{flume_rate:,.0f} lines/s")
    print(f"  end-to-end delay ms: p50 {statistics.median(delays):,.0f}, p99 {delays[int(len(delays) * 0.99)]:,.0f}, "
          f"max {delays[-1]:,}")
    print("  CPU seconds per agent: " + ", ".join(f"{n.removeprefix(name + '_')} {s:.1f} "
                                                   f"({s / args.lines * 1e6:.0f} us/line)" for n, s in cpu.items()))
    print(f"  the machine's CPU time meanwhile: {machine}")
    if args.profile:
        for agent in tiers.agents:
            print(profile_report(config.java(), args.profile / f"{agent.name}.jfr"))
    baseline = producer_perf_test(config, admin, args.lines, bootstrap=bootstrap, replication=replication)
    print(f"RESULT flume (L1 {args.l1_channel} channel) {flume_rate:,.0f} lines/s, kafka-producer-perf-test {baseline:,.0f} records/s, "
          f"ratio {flume_rate / baseline:.3f}, target 33,333 lines/s: {'met' if flume_rate >= 33_333 else 'NOT met'}")


if __name__ == "__main__":
    main()
