"""Line ids: which bytes of which host file a record is, so a line re-sent by a Flume hop counts once.

The L1 agents' TAILDIR (logstream's TailFile, ``include/flume/java``) makes every line's Kafka key
its line id, ``ls1 <host> <file id> <start> <end>`` (ASCII): the front-end host, the file's identity
(its inode and the CRC-32 of its first line, hex: a rename keeps it, a new file of the same name does
not) and the line's bytes ``[start, end)`` in it, separator included, each offset padded with
leading zeros to :data:`OFFSET_DIGITS` (a reader takes any width). The L1 also names the
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

import numpy as np

# the reason a copy of a line taken before is quarantined (HadoopConsumer) or counted bad (topology) for
COPY = "copy"
# the first word of a line id; another format would get another word
FORMAT = "ls1"
_FORMATS = (FORMAT, FORMAT.encode())
# the width the L1 pads each offset of a line id to (leading zeros), so that the keys of a host file
# are of one length and a chunk of them is parsed as a table (parse_line_ids); a longer offset is
# written whole, and a reader takes any width
OFFSET_DIGITS = 15
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
    """The Kafka key of a line as the L1's TailFile writes it (the refill, tests and tools)."""
    return f"{FORMAT} {host} {file_id} {start:0{OFFSET_DIGITS}d} {end:0{OFFSET_DIGITS}d}".encode()


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


# an offset of up to 18 digits fits an int64 (a longer one goes through line_id)
_MAX_DIGITS = 18
_FORMAT_BYTES = np.frombuffer(FORMAT.encode(), np.uint8)


def _numbers(digits: np.ndarray) -> np.ndarray:
    """The numbers whose decimal digits (0-9) are the rows of ``digits``. Up to 15 digits through
    float64, exact below 2**53 (a BLAS product, faster than numpy's integer one)."""
    powers = 10 ** np.arange(digits.shape[1] - 1, -1, -1, dtype=np.int64)
    if digits.shape[1] <= 15:
        return (digits.astype(np.float64) @ powers.astype(np.float64)).astype(np.int64)
    return digits.astype(np.int64) @ powers


def joined_keys(keys: list[bytes]) -> str | None:
    """Keys as one latin-1 text, a line end between two (what the spout passes on: one string is
    cheaper to send than a list of them, and :func:`parse_line_ids` reads it as it is); None if a
    key holds a line end itself."""
    joined = b"\n".join(keys)
    return joined.decode("latin-1") if joined.count(b"\n") == len(keys) - 1 else None


def parse_line_ids(keys: list | str | bytes) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray | None]] | None:
    """A chunk's keys parsed together: each record's ``start`` and ``end`` (int64 arrays), and each
    host file's records (``"<host> <file id>"``: their indexes, in order; None when the whole chunk is
    one file). The keys come as a list, or as one text with a line end between two
    (:func:`joined_keys`). None unless every key is a line id as the L1 writes it (keys of one kind,
    ``ls1``, five words of printable ASCII between single spaces, offsets of 1-18 digits): the caller
    then goes record by record through :func:`line_id`, which decides every other key.

    Keys of one length and one layout (where their spaces are: those of one host file, their offsets
    padded to :data:`OFFSET_DIGITS`) are one table of bytes, read column-wise; keys of several lengths
    or layouts are parsed as one table each. No Python work per key."""
    if not keys:
        return None
    count = None
    listed = not isinstance(keys, (str, bytes))
    try:
        if not listed:
            joined = keys.encode("ascii") if isinstance(keys, str) else keys
        else:
            joined = b"\n".join(keys) if isinstance(keys[0], bytes) else "\n".join(keys).encode("ascii")
            count = len(keys)
    except (TypeError, UnicodeEncodeError):  # a record without a key, keys of both kinds, non-ASCII text
        return None
    text = np.frombuffer(joined, np.uint8)
    line_ends = np.flatnonzero(text == 10)
    if count is None:
        count = line_ends.size + 1
    if line_ends.size != count - 1 or not text.size:  # a key holds a line end
        return None
    key_begins, key_ends = np.concatenate(([0], line_ends + 1)), np.append(line_ends, text.size)
    lengths = key_ends - key_begins
    starts, ends = np.empty(count, np.int64), np.empty(count, np.int64)
    stretches: dict[str, list[np.ndarray]] = {}
    one_length = bool((lengths == lengths[0]).all())
    if one_length:  # rows of the text, a line end apart: a view
        width = int(lengths[0])
        table = np.lib.stride_tricks.as_strided(text, (count, width), (width + 1, 1))
        if _parse_one_file(table, starts, ends, stretches):  # the common case: the lines of one host file
            return starts, ends, {next(iter(stretches)): None}
    # the line ends between keys are the only bytes outside printable ASCII
    if np.count_nonzero((text - 32) > 94) != line_ends.size:
        return None
    if one_length:
        tables = [(np.arange(count), table)]
    else:
        tables = []
        for width in np.unique(lengths).tolist():
            rows = np.flatnonzero(lengths == width)
            if listed:  # its keys of this length joined (cheaper than gathering their bytes)
                mine = [keys[row] for row in rows.tolist()]
                table = np.frombuffer(b"".join(mine) if isinstance(mine[0], bytes) else "".join(mine).encode("ascii"),
                                      np.uint8).reshape(rows.size, width)
            else:
                table = text[key_begins[rows][:, None] + np.arange(width)]
            tables.append((rows, table))
    for rows, table in tables:
        spaces = table == 32
        if bool((spaces == spaces[0]).all()):
            layouts = [(rows, table, np.flatnonzero(spaces[0]))]
        else:
            if not bool((spaces.sum(axis=1) == 4).all()):
                return None
            columns = np.nonzero(spaces)[1].reshape(-1, 4)
            layouts = []
            for layout in np.unique(columns, axis=0):
                mine = (columns == layout).all(axis=1)
                layouts.append((rows[mine], table[mine], layout))
        for rows_of_layout, part, space_at in layouts:
            if not _parse_table(part, space_at, rows_of_layout, starts, ends, stretches):
                return None
    if len(stretches) == 1 and len(next(iter(stretches.values()))) == 1:
        return starts, ends, {next(iter(stretches)): None}
    return starts, ends, {name: np.sort(np.concatenate(parts)) if len(parts) > 1 else parts[0]
                          for name, parts in stretches.items()}


def _parse_one_file(table: np.ndarray, starts: np.ndarray, ends: np.ndarray, stretches: dict[str, list[np.ndarray]]) -> bool:
    """Keys of one length that are the first one's up to its last space (format word, host, file id:
    one host file) and digits after it: parsed (True), without looking for other layouts and files.
    The first key is checked for printable ASCII and four spaces; the others are it but for their
    offsets, whose columns _parse_table checks."""
    first_row = table[0]
    space_at = np.flatnonzero(first_row == 32)
    if space_at.size != 4 or bool(((first_row - 32) > 94).any()):
        return False
    third, fourth = int(space_at[2]), int(space_at[3])
    if not bool((table[:, :third + 1] == first_row[:third + 1]).all()) or not bool((table[:, fourth] == 32).all()):
        return False
    return _parse_table(table, space_at, np.arange(len(table)), starts, ends, stretches, one_file=True)


def _parse_table(table: np.ndarray, space_at: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 stretches: dict[str, list[np.ndarray]], *, one_file: bool = False) -> bool:
    """Keys of one length with their four spaces at ``space_at``: their offsets into ``starts`` and
    ``ends`` and their stretches of one host file into ``stretches``, at ``rows``. False if one is
    not a line id."""
    if space_at.size != 4:
        return False
    first, second, third, fourth = space_at.tolist()
    width = table.shape[1]
    if (first != len(FORMAT) or second == first + 1 or third == second + 1
            or not 0 < fourth - third - 1 <= _MAX_DIGITS or not 0 < width - fourth - 1 <= _MAX_DIGITS):
        return False
    if not bool((table[:, :first] == _FORMAT_BYTES).all()):
        return False
    start_digits, end_digits = table[:, third + 1:fourth] - 48, table[:, fourth + 1:] - 48
    if bool((start_digits > 9).any()) or bool((end_digits > 9).any()):
        return False
    starts[rows] = _numbers(start_digits)
    ends[rows] = _numbers(end_digits)
    # a row starts a new stretch where its host file is not the one of the row before
    names = table[:, first + 1:third]
    if one_file or bool((names == names[0]).all()):
        bounds = [0, len(rows)]
    else:
        bounds = [0, *(np.flatnonzero((names[1:] != names[:-1]).any(axis=1)) + 1).tolist(), len(rows)]
    for low, high in zip(bounds, bounds[1:]):
        stretches.setdefault(names[low].tobytes().decode("ascii"), []).append(rows[low:high])
    return True


def line_runs(keys: list[bytes] | bytes, value_lengths: np.ndarray) -> list[list] | None:
    """A chunk's keys as runs of adjacent lines, what the spout passes on instead of the keys (a few
    numbers a host file instead of ~55 bytes a record through Storm's JSON): per host file, ``[file,
    start, end, stretches, separator]``: its records (the indexes ``[low, high)`` of each stretch of
    them in the chunk, flat) are the adjacent lines that tile ``[start, end)``, each as long as its
    value (``value_lengths``) plus ``separator`` bytes. None unless every key is a line id and each
    file's lines are so (then the keys go as they are); :func:`lines_of_runs` reads them back."""
    parsed = parse_line_ids(keys)
    if parsed is None:
        return None
    starts, ends, files = parsed
    separators = ends - starts - value_lengths
    runs = []
    for file, mine in files.items():
        if mine is None:
            mine_starts, mine_ends, mine_separators, stretches = starts, ends, separators, [0, len(starts)]
        else:
            mine_starts, mine_ends, mine_separators = starts[mine], ends[mine], separators[mine]
            cuts = np.flatnonzero(np.diff(mine) != 1) + 1
            if cuts.size > 32:  # files interleaved record by record: the keys cost about as much
                return None
            stretches = np.column_stack((mine[np.concatenate(([0], cuts))],
                                         mine[np.append(cuts, mine.size) - 1] + 1)).ravel().tolist()
        separator = int(mine_separators[0])
        if (separator < 1 or not bool((mine_separators == separator).all())
                or not np.array_equal(mine_starts[1:], mine_ends[:-1])):
            return None
        runs.append([file, int(mine_starts[0]), int(mine_ends[-1]), stretches, separator])
    return runs


def lines_of_runs(runs: list[list], value_lengths: list[int]) -> list[tuple[str, int, int] | None]:
    """Each record's line ``(file, start, end)`` from :func:`line_runs`' runs and the values' lengths."""
    lines: list[tuple[str, int, int] | None] = [None] * len(value_lengths)
    for file, start, _end, stretches, separator in runs:
        at = start
        for low, high in zip(stretches[0::2], stretches[1::2]):
            for index in range(low, high):
                lines[index] = (file, at, at := at + value_lengths[index] + separator)
    return lines


class LineDedup:
    """One fetch's view: the ranges taken before it (committed) and what it takes itself (``taken``)."""

    def __init__(self, committed: LineRanges) -> None:
        self.covered = committed.copy()
        self.taken = LineRanges()
        self.copies = 0
        # what the last keep_all that took its chunk took, per host file: (file, each line's start, end
        # of the run, each line's record offset or None)
        self.chunk_runs: list[tuple[str, list[int], int, list[int] | None]] = []

    def keep(self, key: bytes | str | tuple[str, int, int] | None, timestamp_ms: int) -> bool:
        """Whether a record with this key (or this line, read from a key: ``lines_of_runs``) is to be
        taken: it has no line id, or its line's first byte was not taken before (then its range is
        taken now)."""
        line = key if isinstance(key, tuple) else line_id(key)
        if line is None:
            return True
        file, start, end = line
        if self.covered.covers(file, start):
            self.copies += 1
            return False
        self.covered.add(file, start, end, timestamp_ms)
        self.taken.add(file, start, end, timestamp_ms)
        return True

    def keep_all(self, keys: list | str, newest_ms: int, offsets: list[int] | None = None) -> bool:
        """Take a chunk's records at once if that is safe and cheap: every key is a line id and each
        file's lines are one run of adjacent ranges (``start`` of each = ``end`` of the one before)
        that touches nothing taken. True if so (all taken, each file's run in :attr:`chunk_runs`); False
        (nothing taken) sends the caller record by record through :meth:`keep`. The keys are parsed
        together (:func:`parse_line_ids`), no Python frame per record. ``newest_ms``: the chunk's
        newest Kafka timestamp, when its files' lines were last taken. ``offsets`` (the records'
        offsets) go into the runs too."""
        self.chunk_runs = []
        if not keys:
            return True
        parsed = parse_line_ids(keys)
        if parsed is None:
            return False
        starts, ends, files = parsed
        if not bool((starts < ends).all()):
            return False
        runs = []
        for file, mine in files.items():
            mine_starts, mine_ends = (starts, ends) if mine is None else (starts[mine], ends[mine])
            if (not np.array_equal(mine_starts[1:], mine_ends[:-1])
                    or self.covered.overlaps_range(file, int(mine_starts[0]), int(mine_ends[-1]))):
                return False
            mine_offsets = offsets if offsets is None or mine is None else np.asarray(offsets)[mine].tolist()
            runs.append((file, mine_starts.tolist(), int(mine_ends[-1]), mine_offsets))
        for file, starts_of_lines, end, _ in runs:
            self.covered.add(file, starts_of_lines[0], end, newest_ms)
            self.taken.add(file, starts_of_lines[0], end, newest_ms)
        self.chunk_runs = runs
        return True

    def keep_runs(self, runs: list[list], newest_ms: int) -> bool:
        """Take a chunk's records at once from its runs of adjacent lines (:func:`line_runs`): True if
        none overlaps what was taken (all taken), False (nothing taken) otherwise."""
        if any(self.covered.overlaps_range(file, start, end) for file, start, end, *_ in runs):
            return False
        for file, start, end, *_ in runs:
            self.covered.add(file, start, end, newest_ms)
            self.taken.add(file, start, end, newest_ms)
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
