"""A large batch fetched by two processes: the upper part of its offset range in a helper process.

One Python process checks and files records at about half the rate Kafka delivers them (each
record is a Python object); a second process on the other core doubles that. The helper fetches
``[split, end)`` with its own consumer, files the records by hour exactly as the batch does, and
streams each hour file back to the batch as soon as it has moved past that hour; the batch stages
those files beside its own, and they are named by the helper's own offset range. Nothing of the
helper reaches HDFS but through the batch, so the batch stays one MANIFEST, one commit (DESIGN.md).

    python -m logstream.hadoop_consumer.split_fetch FD   # spec as JSON on stdin, frames to pipe FD

The helper dies with the batch: it asks Linux to kill it when its parent dies, and a write to the
closed pipe ends it anyway.
"""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from confluent_kafka import Consumer

from logstream.hadoop_consumer.batch_result import BatchLimits, BatchResult
from logstream.hadoop_consumer.inflight_batch import Stager
from logstream.hadoop_consumer.range_fetch import consumer_settings, fetch_range, staged_name
from logstream.line_ids import LineDedup, LineRanges

# the folder that holds the logstream package, for the helper's import path
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class UpperRange:
    """What the helper fetches, and how."""

    kafka_config: dict
    root: str
    topic: str
    partition: int
    start: int
    end: int
    max_bytes: int
    stall_timeout: float
    watermark: int
    parent_pid: int
    start_time_max_age: int = BatchLimits.start_time_max_age
    start_time_max_lead: int = BatchLimits.start_time_max_lead
    watermark_max_lead: int = BatchLimits.watermark_max_lead
    # the line ids taken before the batch (LineRanges.to_json())
    lines: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def can_be_sent(self) -> bool:
        """False when the Kafka settings hold what JSON cannot carry (the Kafka hook's callbacks)."""
        try:
            self.to_json()
        except (TypeError, ValueError):
            return False
        return True


@dataclass
class UpperRangeResult:
    """What the helper fetched: counts, offsets, and its staged files' (folder, dt, hour)."""

    first: int | None = None
    last: int | None = None
    next_offset: int = 0
    records: int = 0
    bytes: int = 0
    watermark: int = -1
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # staged name (as the helper named it) -> (folder, dt, hour)
    files: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # the line ids it took (LineRanges.to_json())
    taken: str = ""

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())


class SplitFetchFailed(RuntimeError):
    """The helper process did not deliver its part of the batch."""


class UpperRangeFetch:
    """The batch's side of the helper: starts it, stages the files it streams back, collects its result.

    :param on_file: called (from a reader thread) with each file the helper sends: staged name, bytes.
    :param progress: where the helper's progress lines go.
    """

    def __init__(self, upper: UpperRange, on_file: Callable[[str, bytes], None],
                 progress: Callable[[str], None]) -> None:
        self.upper = upper
        self.on_file = on_file
        self.progress = progress
        self.outcome: UpperRangeResult | None = None
        self.failure: str | None = None
        spec = upper.to_json().encode()  # before the process starts: a spec that can't be sent fails here
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_PARENT,
                                                                          os.environ.get("PYTHONPATH")]))}
        # frames come over a pipe of their own: whatever the helper prints goes to its output
        frames_read, frames_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "logstream.hadoop_consumer.split_fetch", str(frames_write)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                pass_fds=(frames_write,))
        except BaseException:
            os.close(frames_read)
            raise
        finally:
            os.close(frames_write)
        self.frames = os.fdopen(frames_read, "rb")
        # the spec goes through stdin: the Kafka settings may hold credentials
        try:
            self.process.stdin.write(spec)
            self.process.stdin.close()
        except BrokenPipeError:  # the helper died at once; result() says why
            pass
        self.output: list[bytes] = []
        self.readers = [threading.Thread(target=self._read_frames, name="split-fetch-frames", daemon=True),
                        threading.Thread(target=self._read_output, name="split-fetch-output", daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read_output(self) -> None:
        with self.process.stdout:
            self.output.extend(self.process.stdout)

    def _read_frames(self) -> None:
        with self.frames:
            self._take_frames()

    def _take_frames(self) -> None:
        try:
            while True:
                try:
                    kind, *payload = pickle.load(self.frames)
                except EOFError:
                    return
                if kind == "file":
                    self.on_file(*payload)
                elif kind == "progress":
                    self.progress(payload[0])
                elif kind == "done":
                    self.outcome = UpperRangeResult(**payload[0])
                elif kind == "failed":
                    self.failure = payload[0]
        except Exception as err:  # staging failed, or the stream broke: the batch fails with it
            self.failure = f"{type(err).__name__}: {err}"
            self.process.kill()

    def result(self, timeout: float | None = None) -> UpperRangeResult:
        """Wait for the helper; its result, or :class:`SplitFetchFailed` saying why there is none."""
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise SplitFetchFailed(f"the helper fetching {self.upper.topic}[{self.upper.partition}] offsets "
                                   f"{self.upper.start}->{self.upper.end} did not finish within {timeout:.0f}s") from None
        for reader in self.readers:
            reader.join()
        if self.outcome is None or returncode != 0 or self.failure:
            detail = self.failure or b"".join(self.output).decode(errors="replace").strip()[-2000:]
            raise SplitFetchFailed(f"the helper fetching {self.upper.topic}[{self.upper.partition}] offsets "
                                   f"{self.upper.start}->{self.upper.end} failed (exit {returncode}): {detail}")
        return self.outcome

    def cancel(self) -> None:
        """Stop the helper (if it still runs) and its readers."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self.readers:
            reader.join()


class _FrameSink:
    """Stands in for the inflight folder in the helper: "writing" a file sends it to the batch."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, *frame) -> None:
        with self.lock:
            pickle.dump(frame, self.stream, protocol=pickle.HIGHEST_PROTOCOL)
            self.stream.flush()

    def stage(self, name: str, data: bytes) -> None:
        self.send("file", name, data)


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed pipe still ends the helper
        pass


def main() -> None:
    _die_with_parent()  # first thing: from here on the helper cannot outlive the batch
    upper = UpperRange(**json.loads(sys.stdin.buffer.read()))
    if os.getppid() != upper.parent_pid:  # the batch died before the line above
        os._exit(1)
    sink = _FrameSink(os.fdopen(int(sys.argv[1]), "wb"))
    try:
        outcome = fetch_upper_range(upper, sink)
    except Exception as err:
        sink.send("failed", f"{type(err).__name__}: {err}")
        raise SystemExit(1) from err
    sink.send("done", asdict(outcome))


def fetch_upper_range(upper: UpperRange, sink: _FrameSink) -> UpperRangeResult:
    result = BatchResult(upper.topic, upper.partition, upper.start, upper.start, watermark=upper.watermark)
    limits = BatchLimits(max_records=upper.end - upper.start, max_bytes=upper.max_bytes,
                         stall_timeout=upper.stall_timeout, start_time_max_age=upper.start_time_max_age,
                         start_time_max_lead=upper.start_time_max_lead, watermark_max_lead=upper.watermark_max_lead)
    outcome = UpperRangeResult()
    dedup = LineDedup(LineRanges.from_json(upper.lines))
    consumer = Consumer(consumer_settings(upper.kafka_config))
    try:
        with Stager(sink, threads=1) as stager:
            def name(key: tuple[str, str, str]) -> str:
                staged = staged_name(upper.topic, upper.root, *key)
                outcome.files[staged] = key
                return staged

            fetched = fetch_range(consumer, result, upper.start, upper.end, limits, root=upper.root,
                                  hour_done=lambda key, rows: stager.write(name(key), rows), dedup=dedup,
                                  progress=lambda line: sink.send("progress", line))
            stager.finish({name(key): rows for key, rows in fetched.groups.items()})
    finally:
        consumer.close()
    outcome.first, outcome.last, outcome.next_offset = fetched.first, fetched.last, result.next_offset
    outcome.records, outcome.bytes = result.records, result.bytes
    outcome.watermark, outcome.quarantine_reasons = result.watermark, result.quarantine_reasons
    outcome.taken = dedup.taken.to_json()
    return outcome


if __name__ == "__main__":
    main()
