"""Line ids: which bytes of which host file a record is, so a line re-sent by a Flume hop counts once.

The L1 agents' TAILDIR (logstream's TailFile, ``include/flume/java``) makes every line's Kafka key
its line id, ``ls1 <host> <file id> <start> <end>`` (ASCII): the front-end host, the file's identity
(its inode and the CRC-32 of its first line, hex: a rename keeps it, a new file of the same name does
not) and the line's bytes ``[start, end)`` in it, separator included. The L1 also names the
partition (a hash of the host), so all lines of a host file are in one partition, and a consumer
keeps per partition the byte ranges it has taken, merged: a record whose first byte is in them is a
copy. One key, not headers: reading a record's headers costs ~2 µs in confluent-kafka, its key ~0.1.

Arrival order is not byte order (after a failover, an L2 that comes back drains older lines after
newer ones), hence ranges rather than a high mark. Records without a line id as key (produced
straight into Kafka, keyed otherwise or not at all) are all taken, as before.
"""

from __future__ import annotations

import bisect
import json
import operator
from itertools import compress

# the reason a copy of a line taken before is quarantined (HadoopConsumer) or counted bad (topology) for
COPY = "copy"
# the first word of a line id; another format would get another word
FORMAT = "ls1"
_FORMATS = (FORMAT, FORMAT.encode())
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
        return any(self.overlaps_range(file, start, end)
                   for file, (starts, ends) in other.files.items() for start, end in zip(starts, ends))

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


def make_line_id(host: str, file_id: str, start: int, end: int) -> bytes:
    """The Kafka key of a line (what the L1's TailFile writes; for tests and tools)."""
    return f"{FORMAT} {host} {file_id} {start} {end}".encode()


def line_id(key: bytes | str | None) -> tuple[str, int, int] | None:
    """``("<host> <file id>", start, end)`` from a record's key; None for a key that is not a
    (well-formed) line id. Takes bytes (a Kafka key) or str (a key the spout passed on)."""
    if not key:
        return None
    parts = key.split()
    if len(parts) != 5 or parts[0] not in _FORMATS:
        return None
    try:
        start, end = int(parts[3]), int(parts[4])
        file = f"{_text(parts[1])} {_text(parts[2])}"
    except (ValueError, UnicodeDecodeError):
        return None
    if not 0 <= start < end:
        return None
    return file, start, end


def _text(part: bytes | str) -> str:
    return part.decode("ascii") if isinstance(part, bytes) else part


class LineDedup:
    """One fetch's view: the ranges taken before it (committed) and what it takes itself (``taken``)."""

    def __init__(self, committed: LineRanges) -> None:
        self.covered = committed.copy()
        self.taken = LineRanges()
        self.copies = 0
        # what the last keep_all that took its chunk took, per host file: (file, each line's start, end
        # of the run, each line's record offset or None)
        self.chunk_runs: list[tuple[str, list[int], int, list[int] | None]] = []

    def keep(self, key: bytes | str | None, timestamp_ms: int) -> bool:
        """Whether a record with this key is to be taken: it has no line id, or its line's first byte
        was not taken before (then its range is taken now)."""
        line = line_id(key)
        if line is None:
            return True
        file, start, end = line
        if self.covered.covers(file, start):
            self.copies += 1
            return False
        self.covered.add(file, start, end, timestamp_ms)
        self.taken.add(file, start, end, timestamp_ms)
        return True

    def keep_all(self, keys: list, timestamps_ms: list[int], offsets: list[int] | None = None) -> bool:
        """Take a chunk's records at once if that is safe and cheap: every key is a line id and each
        file's lines are one run of adjacent ranges (``start`` of each = ``end`` of the one before)
        that touches nothing taken. True if so (all taken, each file's run in :attr:`chunk_runs`); False
        (nothing taken) sends the caller record by record through :meth:`keep`. C-level passes over the
        chunk, no Python frame per record. ``offsets`` (the records' offsets) go into the runs too."""
        self.chunk_runs = []
        if not keys:
            return True
        try:
            parts = list(map(str.split if isinstance(keys[0], str) else bytes.split, keys))
        except TypeError:  # a record without a key, or keys of both kinds
            return False
        if set(map(len, parts)) != {5} or not set(map(operator.itemgetter(0), parts)) <= set(_FORMATS):
            return False
        try:
            starts = list(map(int, map(operator.itemgetter(3), parts)))
            ends = list(map(int, map(operator.itemgetter(4), parts)))
        except ValueError:
            return False
        if not all(map(operator.lt, starts, ends)) or min(starts) < 0:
            return False
        files = list(map(operator.itemgetter(1, 2), parts))
        distinct = set(files)
        runs = []
        for host, file_id in distinct:
            try:
                file = f"{_text(host)} {_text(file_id)}"
            except UnicodeDecodeError:
                return False
            mine_offsets = offsets
            if len(distinct) == 1:
                mine_starts, mine_ends = starts, ends
            else:
                mine = list(map((host, file_id).__eq__, files))
                mine_starts, mine_ends = list(compress(starts, mine)), list(compress(ends, mine))
                mine_offsets = None if offsets is None else list(compress(offsets, mine))
            if mine_starts[1:] != mine_ends[:-1] or self.covered.overlaps_range(file, mine_starts[0], mine_ends[-1]):
                return False
            runs.append((file, mine_starts, mine_ends[-1], mine_offsets))
        newest = max(timestamps_ms)
        for file, starts_of_lines, end, _ in runs:
            self.covered.add(file, starts_of_lines[0], end, newest)
            self.taken.add(file, starts_of_lines[0], end, newest)
        self.chunk_runs = runs
        return True


class LandedLines:
    """The line ids of the entries one landed file holds, as the rows of its side index
    (``hdfs_layout.line_ids_dir``, Hive's ``line_ids`` table): per host file, runs of adjacent lines
    with their number of lines. Lines are added in any order; touching runs are merged when the rows
    are made, overlapping ones are not (a line held twice stays visible as two rows that overlap)."""

    def __init__(self) -> None:
        # file -> [[start, end, lines], ...] in the order added, the last one grown while lines touch it
        self.runs: dict[str, list[list[int]]] = {}

    def add(self, file: str, start: int, end: int, lines: int = 1) -> None:
        runs = self.runs.get(file)
        if runs is None:
            self.runs[file] = [[start, end, lines]]
        elif runs[-1][1] == start:
            runs[-1][1] = end
            runs[-1][2] += lines
        else:
            runs.append([start, end, lines])

    def __bool__(self) -> bool:
        return bool(self.runs)

    def add_runs_except(self, runs: list[tuple[str, list[int], int, list[int] | None]], left_out: list,
                        within: tuple[int, int] | None = None) -> None:
        """Add runs of adjacent lines (:attr:`LineDedup.chunk_runs`) but the lines of the records with
        the keys ``left_out`` (the few of the chunk that are not among these entries): each such line
        splits its run. ``within`` (first, last record offset) keeps only the lines of those records
        (the runs need their offsets then). Python work per left-out line only."""
        holes: dict[str, list[int]] = {}
        for key in left_out:
            found = line_id(key)
            if found is not None:
                holes.setdefault(found[0], []).append(found[1])
        for file, starts, end, offsets in runs:
            low, high = 0, len(starts)
            if within is not None:  # lines of a file are in offset order: a slice of the run
                low, high = bisect.bisect_left(offsets, within[0]), bisect.bisect_right(offsets, within[1])
            run_end = starts[high] if high < len(starts) else end
            at = low  # the first line of the part not added yet
            for hole in sorted(holes.get(file, ())):
                index = bisect.bisect_left(starts, hole, low, high)
                if index >= high or starts[index] != hole:
                    continue  # not a line of this run
                if index > at:
                    self.add(file, starts[at], hole, index - at)
                at = index + 1
            if at < high:
                self.add(file, starts[at], run_end, high - at)

    def rows(self) -> list[bytes]:
        """``host TAB file id TAB start TAB end TAB lines`` per merged run, by host file and start."""
        rows = []
        for file in sorted(self.runs):
            host, file_id = file.split(" ", 1)
            merged: list[list[int]] = []
            for start, end, lines in sorted(self.runs[file]):
                if merged and merged[-1][1] == start:
                    merged[-1][1] = end
                    merged[-1][2] += lines
                else:
                    merged.append([start, end, lines])
            rows.extend(f"{host}\t{file_id}\t{start}\t{end}\t{lines}".encode() for start, end, lines in merged)
        return rows


def parse_landed_row(row: bytes | str) -> tuple[str, int, int, int]:
    """A side index row back as ``("<host> <file id>", start, end, lines)``."""
    host, file_id, start, end, lines = (row.decode() if isinstance(row, bytes) else row).split("\t")
    return f"{host} {file_id}", int(start), int(end), int(lines)
