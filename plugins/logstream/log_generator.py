"""Realistic generated log entries for demos, tests and benchmarks (deterministic for a seed).

Hosts come from a few /24 networks with a long-tailed activity; each configuration ID has its usual
interval (60, 300 or 900 s) and now and then an unusual one, so reports have something to find.
A ``bad_ratio`` mixes in malformed records of every kind the HadoopConsumer quarantines.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

USUAL_INTERVALS = (60, 300, 900)
MALFORMED = (
    b"",
    b"not,a,log,entry,at,all",
    b"999.1.1.1,1019491,1795839600,300",
    b"10.0.0.1,abc,1795839600,300",
    b"10.0.0.1,1019491,-5,300",
    b"10.0.0.1,1019491,1795839600,0",
    b"\xff\xfe\x00garbage\x81",
    b"10.0.0.1,1019491,1795839600,300\n10.0.0.2,1,2,3",
)


@dataclass(frozen=True)
class GeneratedRecord:
    value: bytes
    valid: bool


class LogGenerator:
    def __init__(self, *, seed: int = 7, hosts: int = 500, configs: int = 40, bad_ratio: float = 0.0) -> None:
        self.random = random.Random(seed)
        self.hosts = [f"192.168.{10 + i // 250}.{1 + i % 250}" for i in range(hosts)]
        # a Zipf-like weight: a few hosts are very busy, most are quiet
        self.host_cum_weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(hosts)))
        self.configs = [1019491 + 17 * i for i in range(configs)]
        self.usual_interval = {config: USUAL_INTERVALS[i % len(USUAL_INTERVALS)] for i, config in enumerate(self.configs)}
        self.bad_ratio = bad_ratio

    def entry(self, start_time: int) -> bytes:
        host = self.random.choices(self.hosts, cum_weights=self.host_cum_weights)[0]
        config = self.random.choice(self.configs)
        interval = self.usual_interval[config]
        if self.random.random() < 0.01:
            interval = interval * self.random.choice((7, 11, 13))
        return f"{host},{config},{start_time},{interval}".encode()

    def records(self, count: int, *, start: int, end: int) -> Iterator[GeneratedRecord]:
        """``count`` records with StartTime spread over [start, end) epoch seconds, in time order."""
        span = max(end - start, 1)
        for i in range(count):
            if self.bad_ratio and self.random.random() < self.bad_ratio:
                yield GeneratedRecord(self.random.choice(MALFORMED), valid=False)
            else:
                yield GeneratedRecord(self.entry(start + (i * span) // count), valid=True)
