"""Line ids: which bytes of which host file a record is, so a line re-sent by a Flume hop counts once.

The L1 agents' TAILDIR (logstream's TailFile, ``include/flume/java``) gives every line, as Kafka
record headers: ``host``, ``fileid`` (the file's inode and the CRC-32 of its first line: a rename
keeps it, a new file of the same name does not), ``offset`` and ``end`` (the line's bytes
``[offset, end)``, its separator included), and ``file`` (the path at read time, for people). The
Kafka key is the host, so all lines of a host file are in one partition, and a consumer keeps per
partition the byte ranges it has taken, merged: a record whose first byte is in them is a copy.

Arrival order is not byte order (after a failover, an L2 that comes back drains older lines after
newer ones), hence ranges rather than a high mark. Records without the headers (produced straight
into Kafka, or by agents without line ids) have no id and are all taken, as before.
"""

from __future__ import annotations

import bisect
import json
import operator
from collections.abc import Iterable
from itertools import compress

HOST, FILE_ID, START, END = "host", "fileid", "offset", "end"
# a file whose lines were last taken this long before the newest one taken is forgotten: a copy of
# one of its lines arriving later still would be taken again
FORGET_AFTER_MS = 30 * 86_400_000


class LineRanges:
    """The byte ranges taken per host file (``"<host> <file id>"``), merged, with the Kafka timestamp
    (ms) at which each file's lines were last taken."""

    def __init__(self, files: dict[str, tuple[list[int], list[int]]] | None = None,
                 seen: dict[str, int] | None = None) -> None:
        # file -> (starts, ends): sorted, disjoint, not touching
        self.files: dict[str, tuple[list[int], list[int]]] = files or {}
        self.seen: dict[str, int] = seen or {}

    def covers(self, file: str, start: int) -> bool:
        ranges = self.files.get(file)
        if ranges is None:
            return False
        starts, ends = ranges
        at = bisect.bisect_right(starts, start) - 1
        return at >= 0 and start < ends[at]

    def add(self, file: str, start: int, end: int, seen_ms: int = 0) -> None:
        """Add ``[start, end)``, merging it with the ranges it touches or overlaps."""
        self.seen[file] = max(self.seen.get(file, 0), seen_ms)
        ranges = self.files.get(file)
        if ranges is None:
            self.files[file] = ([start], [end])
            return
        starts, ends = ranges
        if start >= starts[-1]:  # the usual case: at or after the last range
            if start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
            return
        low = bisect.bisect_left(ends, start)  # first range that ends at or after start
        high = bisect.bisect_right(starts, end)  # ranges before this start at or before end
        if low < high:
            start, end = min(start, starts[low]), max(end, ends[high - 1])
        starts[low:high] = [start]
        ends[low:high] = [end]

    def update(self, other: LineRanges) -> None:
        for file, (starts, ends) in other.files.items():
            for start, end in zip(starts, ends):
                self.add(file, start, end, other.seen.get(file, 0))

    def overlaps_range(self, file: str, start: int, end: int) -> bool:
        """Whether some byte of ``[start, end)`` is in the ranges of ``file``."""
        ranges = self.files.get(file)
        if ranges is None:
            return False
        at = bisect.bisect_left(ranges[1], start + 1)  # first range that ends after start
        return at < len(ranges[0]) and ranges[0][at] < end

    def overlaps(self, other: LineRanges) -> bool:
        """Whether some byte is in both (ranges that only touch do not overlap)."""
        for file, (starts, ends) in other.files.items():
            mine = self.files.get(file)
            if mine is None:
                continue
            for start, end in zip(starts, ends):
                at = bisect.bisect_left(mine[1], start + 1)  # first of mine that ends after start
                if at < len(mine[0]) and mine[0][at] < end:
                    return True
        return False

    def forget_idle(self, forget_after_ms: int = FORGET_AFTER_MS) -> list[str]:
        """Drop the files last taken more than ``forget_after_ms`` before the newest; their names."""
        if not self.seen:
            return []
        newest = max(self.seen.values())
        idle = [file for file, seen in self.seen.items() if seen < newest - forget_after_ms]
        for file in idle:
            self.files.pop(file, None)
            self.seen.pop(file, None)
        return idle

    def ranges(self, file: str) -> list[tuple[int, int]]:
        starts, ends = self.files.get(file, ((), ()))
        return list(zip(starts, ends))

    def to_json(self) -> str:
        return json.dumps({file: [self.seen.get(file, 0), [x for pair in zip(*ranges) for x in pair]]
                           for file, ranges in sorted(self.files.items())}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LineRanges:
        if not text:
            return cls()
        files, seen = {}, {}
        for file, (seen_ms, flat) in json.loads(text).items():
            files[file] = (list(flat[0::2]), list(flat[1::2]))
            seen[file] = seen_ms
        return cls(files, seen)

    def copy(self) -> LineRanges:
        return LineRanges({file: (list(starts), list(ends)) for file, (starts, ends) in self.files.items()},
                          dict(self.seen))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LineRanges) and (self.files, self.seen) == (other.files, other.seen)

    def __repr__(self) -> str:
        return f"LineRanges({self.to_json()})"


def line_id(headers: Iterable[tuple[str, bytes]] | None) -> tuple[str, int, int] | None:
    """``("<host> <file id>", start, end)`` from a record's headers; None for a record without a
    (well-formed) line id."""
    if not headers:
        return None
    found = {key: value for key, value in headers if key in (HOST, FILE_ID, START, END)}
    try:
        host, file_id = found[HOST].decode(), found[FILE_ID].decode()
        start, end = int(found[START]), int(found[END])
    except (KeyError, ValueError, AttributeError):
        return None
    if not host or not file_id or " " in host or not 0 <= start < end:
        return None
    return f"{host} {file_id}", start, end


class LineDedup:
    """One fetch's view: the ranges taken before it (committed) and what it takes itself (``taken``)."""

    def __init__(self, committed: LineRanges) -> None:
        self.covered = committed.copy()
        self.taken = LineRanges()
        self.copies = 0

    def keep(self, headers, timestamp_ms: int) -> bool:
        """Whether a record with these headers is to be taken: it has no line id, or its first byte
        was not taken before (then its range is taken now)."""
        return self.keep_line(line_id(headers), timestamp_ms)

    def keep_all(self, headers: list[list[tuple[str, bytes]]], timestamps_ms: list[int]) -> bool:
        """Take a chunk's records at once if that is safe and cheap: every record has a line id, the
        same header keys in the same order, and each file's lines are one run of adjacent ranges
        (``start`` of each = ``end`` of the one before) that touches nothing taken. True if so (all
        taken); False (nothing taken) sends the caller record by record through :meth:`keep`.
        C-level passes over the chunk, no Python frame per record."""
        first = headers[0]
        if not first or len(set(map(len, headers))) != 1:
            return False
        keys = [key for key, _value in first]
        try:
            for position, key in enumerate(keys):
                if not all(map(key.__eq__, map(operator.itemgetter(0), map(operator.itemgetter(position), headers)))):
                    return False
            values = {key: list(map(operator.itemgetter(1), map(operator.itemgetter(keys.index(key)), headers)))
                      for key in (HOST, FILE_ID, START, END)}
            starts, ends = list(map(int, values[START])), list(map(int, values[END]))
        except (ValueError, TypeError, IndexError):  # a key missing, a bad number, a header without value
            return False
        if not all(map(operator.lt, starts, ends)) or min(starts) < 0:
            return False
        files = list(zip(values[HOST], values[FILE_ID]))
        runs = []
        for host, file_id in set(files):
            try:
                file = f"{host.decode()} {file_id.decode()}"
            except UnicodeDecodeError:
                return False
            if not host or not file_id or b" " in host:
                return False
            if len(set(files)) == 1:
                mine_starts, mine_ends = starts, ends
            else:
                mine = list(map((host, file_id).__eq__, files))
                mine_starts, mine_ends = list(compress(starts, mine)), list(compress(ends, mine))
            if mine_starts[1:] != mine_ends[:-1] or self.covered.overlaps_range(file, mine_starts[0], mine_ends[-1]):
                return False
            runs.append((file, mine_starts[0], mine_ends[-1]))
        newest = max(timestamps_ms)
        for file, start, end in runs:
            self.covered.add(file, start, end, newest)
            self.taken.add(file, start, end, newest)
        return True

    def keep_line(self, line: tuple[str, int, int] | None, timestamp_ms: int) -> bool:
        """:meth:`keep` for a line id already read (:func:`line_id`)."""
        if line is None:
            return True
        file, start, end = line
        if self.covered.covers(file, start):
            self.copies += 1
            return False
        self.covered.add(file, start, end, timestamp_ms)
        self.taken.add(file, start, end, timestamp_ms)
        return True
