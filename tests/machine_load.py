"""What the machine had to spare while the tests ran (memory available, load, disk free), sampled in
the background, so that a failing test's report says whether the box itself was short of something
at the time, and the run's summary says how short it got."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    memory_available_mib: int
    load_1min: float
    disk_free_mib: int


def sample(path: str) -> Sample:
    with open("/proc/meminfo") as meminfo:
        available_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:"))
    with open("/proc/loadavg") as loadavg:
        load = float(loadavg.read().split()[0])
    disk = os.statvfs(path)
    return Sample(time.monotonic(), available_kib // 1024, load, disk.f_bavail * disk.f_frsize // 2**20)


def describe(samples: list[Sample]) -> str:
    if not samples:
        return "no sample"
    return (f"memory available >= {min(s.memory_available_mib for s in samples):,} MiB, "
            f"load (1 min) <= {max(s.load_1min for s in samples):.1f}, "
            f"disk free >= {min(s.disk_free_mib for s in samples):,} MiB "
            f"({len(samples)} samples over {samples[-1].at - samples[0].at:.0f}s)")


class MachineWatch:
    """Samples every ``interval`` seconds in a daemon thread until :meth:`stop`."""

    def __init__(self, path: str, interval: float = 5.0) -> None:
        self.path = path
        self.interval = interval
        self.samples: list[Sample] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-watch", daemon=True)

    def start(self) -> MachineWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while True:
            self.samples.append(sample(self.path))
            if self._stopped.wait(self.interval):
                return

    def since(self, start: float) -> str:
        """The worst of the samples taken since ``start`` (``time.monotonic()``), and one taken now."""
        return describe([s for s in self.samples if s.at >= start] + [sample(self.path)])
