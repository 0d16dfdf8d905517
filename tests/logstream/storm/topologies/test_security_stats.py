"""The security_stats topology on the stack's real Nimbus and Supervisor: the result store's counts
equal the counts computed here from the produced lines (late, expired and malformed lines mixed in),
also after its worker is SIGKILLed ten times under load and after Nimbus restarts.

One topology for the module (a worker takes ~20 s to start); the tests run in order and each checks
everything produced so far.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from airflow.exceptions import AirflowException
from confluent_kafka.admin import AdminClient, NewTopic

from log_times import hour_start_ago
from online_stats import (IMPLAUSIBLE, Expected, ResultReader, TopologyRun, expired_lines, produce, round_lines,
                          sigkill, wait_for)
from produced_and_landed import drain, quarantine_reasons
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.stack.storm import worker_pids
from logstream.storm.deployment import deploy
from operators.storm_topology import StormTopologyHealthOperator

PARTITIONS = 3
# A pane start; each round's lines take the next hour (rounds must move forward by more than the 30-minute
# lateness). The load test makes a round every 4 s for as long as ten worker restarts take (in a slow CI run
# ~110 rounds, which from a day back ran 60 h past the clock, beyond the 48 h lead every consumer accepts,
# and the topology rightly called them implausible). From 20 days back there are 480 rounds before the
# Kafka timestamps, and the hour before BASE (the first "expired" lines) is well inside the 720 h age bound.
BASE = hour_start_ago(480)


class Run(TopologyRun):
    def __init__(self, stack, name: str) -> None:
        super().__init__(stack.config.kafka_bootstrap, stack.service("postgres").dsn("logstream"), name,
                         base=BASE, partitions=PARTITIONS)
        self.stack = stack


@pytest.fixture(scope="module")
def run(stack, request):
    name = f"t_stats_{random.randrange(16**8):08x}"
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    admin.create_topics(
        [NewTopic(name, PARTITIONS, 1)])[name].result()
    storm = stack.service("storm")
    nimbus = storm.nimbus()
    run = Run(stack, name)
    deployment = deploy(nimbus=nimbus, name=name, topic=name, kafka_bootstrap=stack.config.kafka_bootstrap,
                        results_dsn=run.dsn, jar_dir=stack.config.data_dir / "storm" / "jars",
                        overrides={"flush_records": 20_000})
    run.topology_id = deployment.topology_id
    yield run
    nimbus.kill(name, wait_secs=0)
    wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone")


def test_counts_equal_the_produced_lines(run):
    run.produce_round(20_000)
    run.check_exact()
    assert sum(run.expected.late.values()) > 0 and sum(run.expected.expired.values()) > 0
    assert sum(run.expected.bad.values()) > 0
    # Storm's own tuple statistics are real, not the zeros of a worker that has not reported yet:
    # the workers send them every executor.metrics.frequency.secs (10 s on the stack, 60 s by default)
    nimbus = run.stack.service("storm").nimbus()
    # (40 s: three reports or more; Storm's default would give none before the worker is a minute old: removing
    # the setting from include/stack/storm/storm.yaml fails this wait, checked once)
    health = wait_for(lambda: (h := nimbus.health(run.name)) and h.acked > 0 and h, 40,
                      "Nimbus reporting acked tuples")
    print(f"Storm: emitted {health.emitted:,} acked {health.acked:,} failed {health.failed:,} tuples, "
          f"complete latency {health.complete_latency_ms:.0f} ms")
    assert health.emitted >= health.acked > 0 and health.failed == 0 and health.complete_latency_ms > 0, health


def test_implausible_start_times_are_bad_online_and_offline_and_counting_goes_on(run, hdfs_client, zookeeper_hosts):
    """A far-future StartTime at the head of each partition once moved its watermark that far (every
    later record expired, for good), and one past 9999-12-31 crash-looped the bolt in the store's
    timestamp conversion; without the bounds check in WindowCounter._add both come back. The
    HadoopConsumer, draining the same topic, quarantines exactly the records the topology calls bad."""
    run.produce_round(5_000, head=tuple(IMPLAUSIBLE))
    run.check_exact()
    assert run.expected.bad["implausible_start_time"] == 4 * PARTITIONS
    run.produce_round(5_000)
    run.check_exact()

    root = f"/tests/{run.name}/logs"
    try:
        drain(HadoopConsumer({"bootstrap.servers": run.stack.config.kafka_bootstrap}, hdfs_client, root,
                             zookeeper_hosts=zookeeper_hosts), run.name, PARTITIONS)
        assert Counter(quarantine_reasons(hdfs_client, root, run.name).values()) == run.results.actual().bad
    finally:
        hdfs_client.delete(f"/tests/{run.name}", recursive=True)


def test_same_code_resubmitted_is_a_no_op(run):
    storm = run.stack.service("storm")
    again = deploy(nimbus=storm.nimbus(), name=run.name, topic=run.name, kafka_bootstrap=run.stack.config.kafka_bootstrap,
                   results_dsn=run.dsn, jar_dir=run.stack.config.data_dir / "storm" / "jars",
                   overrides={"flush_records": 20_000})
    assert (again.topology_id, again.submitted) == (run.topology_id, False)


def test_copies_of_lines_are_counted_once(run):
    """Lines with line ids, a third of their 50-line batches sent again 1-3 batches later (older
    after newer, as after a failover): each line is counted once, bad ones too."""
    before = sum(run.expected.end_offsets.values())
    run.produce_round(5_000, resent_ratio=0.3)
    sent = sum(run.expected.end_offsets.values()) - before
    assert sent > 3 * 5_450 * 1.2  # the copies are in Kafka
    run.check_exact()


def test_exact_after_ten_worker_kills_under_load(run, recovery):
    done = threading.Event()
    errors: list[BaseException] = []

    def load() -> None:
        try:
            # ~4,000 records/s (a round of 3 x 5,450 lines every 4 s), until the kills are done; every
            # other round's lines have line ids and a fifth of them copies: the ranges counted must
            # move with the offsets, whenever a worker dies
            while not done.wait(4):
                run.produce_round(5_000, resent_ratio=0.2 if run.round % 2 else None)
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    producer = threading.Thread(target=load)
    producer.start()
    rng = random.Random(run.name)
    killed, restarts, killed_at = [], [], 0.0
    try:
        for _ in range(10):
            pid = wait_for(lambda: [p for p in worker_pids(run.topology_id) if p not in killed], 600,
                           "a (new) worker process")[0]
            if killed:
                restarts.append(time.monotonic() - killed_at)
            # a random moment of its life: while it starts (0 flushes) or after 1-3 more committed flushes
            target = run.results.flush_count() + rng.randrange(4)
            wait_for(lambda: run.results.flush_count() >= target, 600, f"{target} committed flushes")
            sigkill(pid)
            killed_at = time.monotonic()
            killed.append(pid)
    finally:
        done.set()
        producer.join()
    assert not errors, errors
    assert len(killed) == 10
    run.check_exact(timeout=1200)
    recovery(f"Storm: 10 worker kills under load; Storm started a new worker {min(restarts):.1f}-{max(restarts):.1f}s "
             f"after each of the first {len(restarts)} kills "
             f"(median {sorted(restarts)[len(restarts) // 2]:.1f}s); counts exact "
             f"({sum(run.expected.totals.values()):,} records) {time.monotonic() - killed_at:.1f}s after the last")


def test_exact_after_nimbus_restart(run):
    storm = run.stack.service("storm")
    storm.restart_nimbus()
    run.produce_round(10_000)
    run.check_exact()
    assert storm.nimbus().topology_id(run.name) == run.topology_id


def test_changed_code_replaces_the_running_topology_and_the_counts_stay_exact(run):
    """Other code (here another flush size) under the same name is rolled out by the deploy itself:
    the old topology killed and waited out, the new one resuming from the committed offsets. Without
    it the deploy raised TopologyAlreadyRunning on every scheduled run until someone killed it."""
    run.produce_round(5_000)
    storm = run.stack.service("storm")
    changed = deploy(nimbus=storm.nimbus(), name=run.name, topic=run.name, kafka_bootstrap=run.stack.config.kafka_bootstrap,
                     results_dsn=run.dsn, jar_dir=run.stack.config.data_dir / "storm" / "jars",
                     overrides={"flush_records": 10_000})
    assert changed.submitted and changed.replaced == run.topology_id and changed.topology_id != run.topology_id
    run.topology_id = changed.topology_id
    run.produce_round(5_000)
    run.check_exact()


def test_records_all_arriving_expired_make_the_health_check_call_the_statistics_frozen(stack):
    """The live counts froze once for 20 minutes (every record expired) while the health check stayed
    green: it now names the expired share of the window's records. A topology of its own: one
    on-time record sets the watermark, every later one arrives an hour older."""
    name = f"t_frozen_{random.randrange(16**8):08x}"
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result()
    nimbus = stack.service("storm").nimbus()
    dsn = stack.service("postgres").dsn("logstream")
    deploy(nimbus=nimbus, name=name, topic=name, kafka_bootstrap=stack.config.kafka_bootstrap, results_dsn=dsn,
           jar_dir=stack.config.data_dir / "storm" / "jars")
    try:
        rng, expected, base = random.Random(name), Expected(), hour_start_ago(48)
        produce(stack.config.kafka_bootstrap, name, {0: round_lines(rng, base, 1)}, expected)
        produce(stack.config.kafka_bootstrap, name, {0: expired_lines(rng, base, 5_000)}, expected)
        ResultReader(dsn, name, name).wait_for_offsets(expected.end_offsets, 600)

        with pytest.raises(AirflowException) as error:
            StormTopologyHealthOperator(task_id="health_check", name=name, topic=name).execute({})

        assert sum(expected.expired.values()) == 5_000
        assert (f"topology {name}: the statistics look frozen: 100% of the 5,001 records counted in the last 10 "
                f"minutes arrived expired") in str(error.value)
    finally:
        nimbus.kill(name, wait_secs=0)
        wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone")
