"""Gaps: bytes of a front-end host's log file that no consumer has taken, long after they were written.

The HadoopConsumer keeps, per partition, the byte ranges of every host file whose lines it has
taken (``offset.dat``'s ``lines``, ``logstream.line_ids``); all of a host's lines are in one
partition. A host file's lines ``[0, end of its last complete line)`` that those ranges do not cover
are *uncovered*: in flight, or lost (an L1 killed with lines in its memory channel). A part that is
still uncovered ``delay`` after it was first seen so is a *gap*; the refill
(``logstream.flume.line_refill``) re-reads it from the host file and sends it through the tiers with
the same ids, so a false alarm only makes copies, which the consumers drop.

A file is known by its id (inode and CRC-32 of its first line, as the L1's TailFile computes it), so
a rotated file (``app.log`` -> ``app.log.1``) keeps its gaps. A file with a gap that is no longer on
the host (rotated away, deleted) or now shorter than its gap (truncated) cannot be refilled: it is
reported once as *lost* and never retried.

The tracker's state (``GapTracker.to_json``) is what the previous observation saw: per file the
uncovered ranges and when each was first seen, plus the lost ranges already reported.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from logstream.flume.host_files import HostFiles, LocalHostFiles
from logstream.line_ids import LineRanges

# as the L1's TailFile: the CRC-32 of a file's first line, or of its first 4096 bytes if longer
FIRST_LINE_MAX = 4096
_TAIL_BLOCK = 1 << 16


@dataclass(frozen=True)
class HostFile:
    """A log file on a front-end host, as TAILDIR reads it."""

    host: str
    path: Path
    file_id: str  # "<inode>-<crc32 hex>", the middle word of its lines' ids
    complete_end: int  # the offset just past its last newline: the lines TAILDIR sends at once
    size: int
    mtime: float = 0.0

    @property
    def key(self) -> str:
        """The name ``LineRanges`` keeps the file's ranges under."""
        return f"{self.host} {self.file_id}"


def file_id_of(inode: int, head: bytes) -> str:
    """The id of the file with ``inode`` whose first bytes are ``head`` (at least its first line, or
    ``FIRST_LINE_MAX`` bytes)."""
    newline = head.find(b"\n")
    first_line = head[:newline + 1] if newline >= 0 else head
    return f"{inode}-{zlib.crc32(first_line):x}"


def complete_end(handle: IO[bytes], size: int) -> int:
    """The offset past the last newline of the file open in ``handle`` (0 when it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        handle.seek(start)
        block = handle.read(end - start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def scan_host_files(host: str, log_dir: Path, file_pattern: str, files: HostFiles | None = None) -> list[HostFile]:
    """The files of ``log_dir`` whose name TAILDIR's pattern matches, with their ids, read where
    ``files`` reads the host's folders (here by default). A file the host replaced between the
    folder's two listings (its path now another inode) waits for the next scan."""
    files = files or LocalHostFiles()
    pattern = re.compile(file_pattern)
    listed = [file for file in files.list_files(str(log_dir)) if pattern.fullmatch(PurePosixPath(file.path).name)]
    found = []
    for file in listed:
        try:
            with files.open(file.path) as handle:
                head = handle.read(FIRST_LINE_MAX)
                end = complete_end(handle, file.size)
        except FileNotFoundError:  # rotated away between the listing and the read
            continue
        found.append((file.inode, HostFile(host=host, path=Path(file.path), file_id=file_id_of(file.inode, head),
                                           complete_end=end, size=file.size, mtime=file.mtime)))
    inode_now = {file.path: file.inode for file in files.list_files(str(log_dir))}
    return [host_file for inode, host_file in found if inode_now.get(str(host_file.path)) == inode]


def uncovered(ranges: list[tuple[int, int]], end: int) -> list[tuple[int, int]]:
    """The parts of ``[0, end)`` outside ``ranges`` (sorted, disjoint)."""
    parts, at = [], 0
    for start, stop in ranges:
        if start >= end:
            break
        if start > at:
            parts.append((at, start))
        at = max(at, stop)
    if at < end:
        parts.append((at, end))
    return parts


def _minus(part: tuple[int, int], ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The bytes of ``part`` outside ``ranges``."""
    start, end = part
    return [(max(low, start), min(high, end)) for low, high in uncovered(ranges, end)
            if min(high, end) > max(low, start)]


@dataclass(frozen=True)
class Gap:
    """Bytes ``[start, end)`` of a host file, uncovered since ``first_seen`` (epoch seconds)."""

    host: str
    file_id: str
    start: int
    end: int
    first_seen: float
    path: str = ""  # where the file is now on its host ("" once it is gone)
    reason: str = ""  # why a lost gap cannot be refilled

    @property
    def key(self) -> str:
        return f"{self.host} {self.file_id}"

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.host} file {self.file_id}{where} bytes [{self.start}, {self.end}){why}"


@dataclass
class GapReport:
    """One observation: the gaps to refill now, the ones found lost (reported this once), and the
    bytes still uncovered but younger than the delay."""

    gaps: list[Gap] = field(default_factory=list)
    lost: list[Gap] = field(default_factory=list)
    pending_bytes: int = 0
    files: int = 0


class GapTracker:
    """Remembers what was uncovered and since when, so that only what stays uncovered is a gap.

    :param uncovered_since: per file key, ``[start, end, first_seen]`` of each uncovered part
    :param lost: per file key, the lost ranges already reported
    """

    def __init__(self, uncovered_since: dict[str, list[list[float]]] | None = None,
                 lost: dict[str, list[list[int]]] | None = None) -> None:
        self.uncovered_since = uncovered_since or {}
        self.lost = lost or {}

    def observe(self, files: list[HostFile], covered: LineRanges, *, now: float, delay: float,
                hosts: set[str]) -> GapReport:
        """Compare the hosts' ``files`` with the ``covered`` ranges at ``now``; a part uncovered since
        at least ``delay`` seconds is a gap. ``hosts``: whose files were looked at (only their
        earlier parts can be found gone)."""
        report = GapReport(files=len(files))
        previous, self.uncovered_since = self.uncovered_since, {}
        present = {file.key: file for file in files}
        for file in files:
            # each part keeps the earliest time any of it was seen uncovered before; the rest is new
            earlier = sorted((int(start), int(end), seen) for start, end, seen in previous.get(file.key, []))
            parts = []
            for start, end in uncovered(covered.ranges(file.key), file.complete_end):
                at = start
                for old_start, old_end, seen in earlier:
                    low, high = max(start, old_start), min(end, old_end)
                    if low >= high:
                        continue
                    if low > at:
                        parts.append([at, low, now])
                    parts.append([low, high, seen])
                    at = high
                if at < end:
                    parts.append([at, end, now])
            parts = [part for part in parts if not self._reported_lost(file.key, part[0], part[1])]
            if parts:
                self.uncovered_since[file.key] = parts
            for start, end, seen in parts:
                if now - seen >= delay:
                    report.gaps.append(Gap(file.host, file.file_id, start, end, seen, path=str(file.path)))
                else:
                    report.pending_bytes += end - start
            # bytes past the file's end that were uncovered before: the file was truncated
            for start, end, seen in earlier:
                if end > file.size and now - seen >= delay:
                    self._lose(report, Gap(file.host, file.file_id, max(start, file.size), end, seen,
                                           path=str(file.path), reason=f"the file is now {file.size} bytes (truncated)"))
        for key, parts in previous.items():
            if key in present:
                continue
            host, file = key.split(" ", 1)
            if host not in hosts:  # not looked at this time
                self.uncovered_since[key] = parts
                continue
            # gone from its host: what is still uncovered after the delay cannot be re-read
            still = [[start, end, seen] for old_start, old_end, seen in parts
                     for start, end in _minus((int(old_start), int(old_end)), covered.ranges(key))]
            waiting = [part for part in still if now - part[2] < delay]
            if waiting:
                self.uncovered_since[key] = waiting
            for start, end, seen in still:
                if now - seen >= delay:
                    self._lose(report, Gap(host, file, start, end, seen,
                                           reason="the file is no longer on its host (rotated away or deleted)"))
        return report

    def _reported_lost(self, key: str, start: int, end: int) -> bool:
        return any(lost_start <= start and end <= lost_end for lost_start, lost_end in self.lost.get(key, []))

    def _lose(self, report: GapReport, gap: Gap) -> None:
        if self._reported_lost(gap.key, gap.start, gap.end):
            return
        self.lost.setdefault(gap.key, []).append([gap.start, gap.end])
        report.lost.append(gap)

    def to_json(self) -> str:
        return json.dumps({"uncovered_since": self.uncovered_since, "lost": self.lost}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GapTracker:
        if not text:
            return cls()
        state = json.loads(text)
        return cls(state.get("uncovered_since"), state.get("lost"))
