"""The refill: lines of a gap re-read from the host file and sent through the tiers with their ids.

Each L1 agent has a second source besides TAILDIR: a Thrift source (``include/flume/l1.properties.j2``,
port ``refill_port``) into the same memory channel, so refilled lines take the L1 -> L2 -> Kafka path
with the headers TAILDIR would have given them: ``topic``, ``host``, ``partition`` and ``key``, the
line id ``ls1 <host> <file id> <start> <end>``. The body is the line as TailFile makes it: without
its ``\\n`` and a ``\\r`` right before it; the L1's ``oversized`` interceptor cuts a long one the same
way. A line already taken is dropped by the consumers as a copy, so refilling too much is harmless.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from logstream.flume.host_files import HostFiles, LocalHostFiles
from logstream.line_ids import make_line_id

# Flume's own IDL (flume-ng-sdk, src/main/thrift/flume.thrift)
FLUME_THRIFT = """
struct ThriftFlumeEvent {
  1: required map <string, string> headers,
  2: required binary body,
}
enum Status { OK, FAILED, ERROR, UNKNOWN }
service ThriftSourceProtocol {
  Status append(1: ThriftFlumeEvent event),
  Status appendBatch(1: list<ThriftFlumeEvent> events),
}
"""
READ_BLOCK = 1 << 20


class RefillError(RuntimeError):
    """The L1 did not take the lines (down, or its channel stayed full)."""


@dataclass(frozen=True)
class RefillLine:
    start: int
    end: int  # past the separator
    body: bytes


def lines_in_range(path: Path | str, start: int, end: int, files: HostFiles | None = None) -> Iterator[RefillLine]:
    """The whole lines of ``path`` in ``[start, end)`` (``start`` at a line's first byte), read where
    ``files`` reads the host's folders (here by default); a last line without its newline inside the
    range is not one (TAILDIR sends it only when it is whole)."""
    with (files or LocalHostFiles()).open(str(path), start, end) as handle:
        at, rest = start, b""
        while at + len(rest) < end:
            block = handle.read(min(READ_BLOCK, end - at - len(rest)))
            if not block:
                return
            data = rest + block
            cut = 0
            while (newline := data.find(b"\n", cut)) >= 0:
                body = data[cut:newline]
                if body.endswith(b"\r"):
                    body = body[:-1]
                yield RefillLine(at + cut, at + newline + 1, body)
                cut = newline + 1
            at, rest = at + cut, data[cut:]


class L1RefillClient:
    """Sends lines to an L1 agent's Thrift refill source, a batch at a time.

    :param host: where the L1 listens (its own host: the refill runs there or reaches it)
    :param port: the L1's ``refill_port``
    """

    def __init__(self, *, host: str, port: int, timeout_ms: int = 30_000, retry_seconds: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.timeout_ms = timeout_ms
        self.retry_seconds = retry_seconds

    def send(self, topic: str, host: str, partition: int, file_id: str, path: str, lines: Iterator[RefillLine], *,
             batch_size: int = 1000, progress: Callable[[int], None] | None = None) -> int:
        """Send every line with its id; returns how many. A batch the L1 refuses (its channel full)
        is sent again for up to ``retry_seconds``; then RefillError."""
        import thriftpy2
        from thriftpy2.protocol import TBinaryProtocolFactory
        from thriftpy2.rpc import make_client
        from thriftpy2.thrift import TException
        from thriftpy2.transport import TFramedTransportFactory

        flume = thriftpy2.load_fp(io.StringIO(FLUME_THRIFT), module_name="flume_thrift")
        static = {"topic": topic, "host": host, "partition": str(partition), "file": path}
        try:
            client = make_client(flume.ThriftSourceProtocol, self.host, self.port, proto_factory=TBinaryProtocolFactory(),
                                 trans_factory=TFramedTransportFactory(), timeout=self.timeout_ms)
        except (OSError, TException) as err:
            raise RefillError(f"the L1 agent of {host} does not answer at {self.host}:{self.port} ({err}): "
                              f"its refill waits until it runs") from err
        sent = 0
        try:
            batch = []
            for line in lines:
                headers = dict(static, key=make_line_id(host, file_id, line.start, line.end).decode())
                batch.append(flume.ThriftFlumeEvent(headers=headers, body=line.body))
                if len(batch) == batch_size:
                    sent += self._append(client, flume, batch, host)
                    batch = []
                    if progress:
                        progress(sent)
            if batch:
                sent += self._append(client, flume, batch, host)
        except (OSError, TException) as err:
            raise RefillError(f"the L1 agent of {host} at {self.host}:{self.port} failed after {sent} lines: {err}") from err
        finally:
            client.close()
        return sent

    def _append(self, client, flume, batch: list, host: str) -> int:
        deadline = time.monotonic() + self.retry_seconds
        while True:
            status = client.appendBatch(batch)
            if status == flume.Status.OK:
                return len(batch)
            if time.monotonic() >= deadline:
                raise RefillError(f"the L1 agent of {host} refused a batch of {len(batch)} lines for "
                                  f"{self.retry_seconds:.0f}s (status {status}): its channel stays full")
            # the L1's channel is full: it drains at the L2s' pace
            time.sleep(1.0)
