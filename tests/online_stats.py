"""Labelled log lines for the online statistics, the counts expected from them (computed here, in
plain Python, from the lines as produced: not with the code under test), and readers of what the
topology wrote into the result store."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
from confluent_kafka import Producer

PANE = 60
ALLOWED_LATENESS = 300
# by hand, what the entry parser answers for each kind of malformed record
MALFORMED = {
    b"": "empty",
    b"not,a,log,entry,at,all": "field_count",
    b"999.1.1.1,1019491,1795839600,300": "bad_host",
    b"10.0.0.1,abc,1795839600,300": "bad_config_id",
    b"10.0.0.1,1019491,1795839600,0": "bad_interval",
    b"\xff\xfe\x00garbage\x81": "not_text",
    b"10.0.0.1,1019491,1795839600,300\n10.0.0.2,1,2,3": "control_characters",
}

# StartTimes implausible for a Kafka timestamp of any date after February 1970 (more than 2 days
# ahead of it, or more than 30 days before): the topology counts them as bad records and, like the
# HadoopConsumer, lets none of them move a watermark; by hand, not with the code under test
IMPLAUSIBLE = {
    b"10.0.0.1,1019491,999999999999999999,300": "implausible_start_time",  # year ~31.7 billion
    b"10.0.0.1,1019491,253402300800,300": "implausible_start_time",  # 10000-01-01: no date can name it
    b"fe80::1,1019491,99999999999,300": "implausible_start_time",  # year 5138, the parser's path
    b"10.0.0.1,1019491,0,300": "implausible_start_time",  # 1970-01-01
    b"10.0.0.1,1019491,-1,300": "bad_start_time",  # before 1970: not a StartTime at all
}


@dataclass
class Expected:
    """What the produced lines must give: per-pane records per config and host, totals, bad reasons."""

    config: Counter = field(default_factory=Counter)  # (pane_start, config_id) -> records
    host: Counter = field(default_factory=Counter)  # (pane_start, host) -> records
    totals: Counter = field(default_factory=Counter)  # pane_start -> records
    late: Counter = field(default_factory=Counter)  # pane_start -> late records
    expired: Counter = field(default_factory=Counter)  # pane_start -> expired records
    bad: Counter = field(default_factory=Counter)  # reason -> records
    end_offsets: Counter = field(default_factory=Counter)  # partition -> next offset

    def add_line(self, line: bytes, kind: str) -> None:
        if kind == "bad":
            self.bad[MALFORMED.get(line) or IMPLAUSIBLE[line]] += 1
            return
        if kind == "copy":  # a line sent again: a bad record of its own reason, in no pane
            self.bad["copy"] += 1
            return
        host, config, start, _interval = line.decode().split(",")
        pane = int(start) // PANE * PANE
        if kind == "expired":
            self.expired[pane] += 1
            return
        self.config[(pane, int(config))] += 1
        self.host[(pane, host)] += 1
        self.totals[pane] += 1
        if kind == "late":
            self.late[pane] += 1


def round_lines(rng: random.Random, base: int, records: int) -> list[tuple[bytes, str]]:
    """One partition's lines for a round starting at ``base`` (a pane start, later than every earlier
    round's lines by more than the allowed lateness): on-time lines over ten minutes in time order,
    then lines for a pane that closed 60-120 s before the newest time (late), lines an hour older
    than that (expired), and malformed lines, shuffled into the tail."""
    on_time = sorted(base + rng.randrange(600) for _ in range(records))
    lines = [(_entry(rng, start), "on_time") for start in on_time]
    newest = on_time[-1]
    tail = [(_entry(rng, newest - newest % PANE - 120 + rng.randrange(PANE)), "late") for _ in range(records // 20)]
    tail += [(_entry(rng, base - 3600 + rng.randrange(600)), "expired") for _ in range(records // 50)]
    tail += [(rng.choice(list(MALFORMED)), "bad") for _ in range(records // 50)]
    rng.shuffle(tail)
    return lines + tail


def with_line_ids(partition_lines: dict[int, list[tuple[bytes, str]]], rng: random.Random, file_ends: Counter,
                  resent_ratio: float) -> dict[int, list[tuple[bytes, str, list]]]:
    """Each partition's lines as the next lines of one host file, with line ids as the Flume tiers
    send them (the key "ls1 <host> <file id> <start> <end>", written here by hand; the file's bytes
    tiled, ``file_ends`` keeping where each file ends), sent in
    batches of 50 of which ``resent_ratio`` are sent again 1-3 batches later, as a failover does.
    A copy's kind is "copy": it must not be counted."""
    sent = {}
    for partition, lines in partition_lines.items():
        records = []
        for line, kind in lines:
            start = file_ends[partition]
            file_ends[partition] += len(line) + 1
            records.append((line, kind, b"ls1 host%d 77-%x %d %d" % (partition, partition, start, file_ends[partition])))
        order, waiting = [], []  # (line, kind, key)
        for begin in range(0, len(records), 50):
            batch = records[begin:begin + 50]
            order += batch
            for resend in list(waiting):
                resend[0] -= 1
                if resend[0] == 0:
                    waiting.remove(resend)
                    order += [(line, "copy", headers) for line, _kind, headers in resend[1]]
            if rng.random() < resent_ratio:
                waiting.append([rng.randint(1, 3), batch])
        order += [(line, "copy", headers) for _wait, batch in waiting for line, _kind, headers in batch]
        sent[partition] = order
    return sent


def _entry(rng: random.Random, start: int) -> bytes:
    return b"10.%d.%d.%d,%d,%d,300" % (rng.randrange(2), rng.randrange(3), rng.randrange(1, 40),
                                       1019491 + 17 * rng.randrange(12), start)


def produce(bootstrap: str, topic: str, partition_lines: dict[int, list[tuple]], expected: Expected) -> None:
    """Produce each partition's lines in order and add them to ``expected`` once Kafka has them;
    a line may come with its Kafka key as a third item (:func:`with_line_ids`)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    failures = []
    for partition, lines in partition_lines.items():
        for i, (line, _kind, *key) in enumerate(lines):
            producer.produce(topic, value=line, key=key[0] if key else None, partition=partition,
                             on_delivery=lambda err, msg: err and failures.append(err))
            if i % 10_000 == 0:
                producer.poll(0)
    assert producer.flush(60) == 0 and not failures, failures
    for partition, lines in partition_lines.items():
        for line, kind, *_key in lines:
            expected.add_line(line, kind)
        expected.end_offsets[partition] += len(lines)


class ResultReader:
    def __init__(self, dsn: str, topology: str, topic: str) -> None:
        self.dsn, self.topology, self.topic = dsn, topology, topic

    def query(self, sql: str) -> list[tuple]:
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(sql, {"topic": self.topic, "topology": self.topology})
            rows = cur.fetchall()
        conn.close()
        return rows

    def offsets(self) -> dict[int, int]:
        return dict(self.query("SELECT partition, next_offset FROM online_offsets "
                               "WHERE topology = %(topology)s AND topic = %(topic)s"))

    def wait_for_offsets(self, end_offsets: Counter, timeout: float, during: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.offsets() == dict(end_offsets):
                return
            time.sleep(1)
        raise AssertionError(f"offsets {self.offsets()} did not reach {dict(end_offsets)} within {timeout:.0f}s")

    def actual(self) -> Expected:
        got = Expected()
        for pane, config, records in self.query(
                "SELECT extract(epoch FROM pane_start)::bigint, config_id, records FROM online_pane_config_counts "
                "WHERE topic = %(topic)s"):
            got.config[(pane, config)] = records
        for pane, host, records in self.query(
                "SELECT extract(epoch FROM pane_start)::bigint, host, records FROM online_pane_host_counts "
                "WHERE topic = %(topic)s"):
            got.host[(pane, host)] = records
        for pane, records, late, expired in self.query(
                "SELECT extract(epoch FROM pane_start)::bigint, records, late_records, expired_records "
                "FROM online_pane_totals WHERE topic = %(topic)s"):
            got.totals[pane], got.late[pane], got.expired[pane] = records, late, expired
        for reason, records in self.query(
                "SELECT reason, sum(records)::bigint FROM online_bad_records WHERE topic = %(topic)s GROUP BY reason"):
            got.bad[reason] = records
        got.end_offsets.update(self.offsets())
        # Counter equality ignores zero entries on neither side in 3.11, so drop them explicitly
        for counter in (got.config, got.host, got.totals, got.late, got.expired, got.bad):
            for key in [k for k, v in counter.items() if v == 0]:
                del counter[key]
        return got

    def flush_count(self) -> int:
        return self.query("SELECT count(*) FROM online_flushes WHERE topology = %(topology)s")[0][0]

    def flush_ranges_tile(self) -> bool:
        """Each partition's committed flushes cover its offsets once: each starts where the last ended."""
        rows = self.query("SELECT partition, first_offset, last_offset FROM online_flushes "
                          "WHERE topology = %(topology)s AND topic = %(topic)s ORDER BY partition, first_offset")
        previous: dict[int, int] = {}
        for partition, first, last in rows:
            if previous.get(partition, 0) != first:
                return False
            previous[partition] = last + 1
        return previous == self.offsets()


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def sigkill(pid: int) -> None:
    os.kill(pid, 9)


def expired_lines(rng: random.Random, before: int, records: int) -> list[tuple[bytes, str]]:
    """Lines of the hour before ``before`` up to 10 minutes before it: with a watermark at or past
    ``before`` (a round's base), all of them arrive after their pane's allowed lateness."""
    return [(_entry(rng, before - 3600 + rng.randrange(3000)), "expired") for _ in range(records)]


class TopologyRun:
    """One topology's test run: rounds of lines produced on every partition of its topic (named as
    the topology unless given), the counts expected from them, and the check that the store holds
    exactly those."""

    def __init__(self, bootstrap: str, dsn: str, name: str, *, base: int, partitions: int,
                 topic: str | None = None) -> None:
        self.bootstrap, self.dsn, self.name, self.topic = bootstrap, dsn, name, topic or name
        self.base, self.partitions = base, partitions
        self.expected = Expected()
        self.rng = random.Random(name)
        self.round = 0
        self.file_ends: Counter = Counter()  # partition -> bytes of its host file so far (lines with ids)
        self.results = ResultReader(dsn, name, self.topic)

    def produce_round(self, records: int, head: tuple[bytes, ...] = (), resent_ratio: float | None = None) -> None:
        """A round of lines on every partition, after the ``head`` lines (bad ones); with ``resent_ratio``
        the lines of one host file per partition, with line ids, that share of them sent twice."""
        base = self.base + 3600 * self.round
        # the test's own limit, not the product's: later hours would meet the StartTime bounds
        assert base + 3600 <= time.time(), f"round {self.round}: no plausible hour left before the clock"
        self.round += 1
        lines = {p: [(line, "bad") for line in head] + round_lines(self.rng, base, records)
                 for p in range(self.partitions)}
        if resent_ratio is not None:
            lines = with_line_ids(lines, self.rng, self.file_ends, resent_ratio)
        produce(self.bootstrap, self.topic, lines, self.expected)

    def check_exact(self, timeout: float = 900) -> None:
        self.results.wait_for_offsets(self.expected.end_offsets, timeout)
        actual = self.results.actual()
        assert actual.totals == self.expected.totals
        assert actual.late == self.expected.late
        assert actual.expired == self.expected.expired
        assert actual.bad == self.expected.bad
        assert actual.config == self.expected.config
        assert actual.host == self.expected.host
        assert self.results.flush_ranges_tile()
