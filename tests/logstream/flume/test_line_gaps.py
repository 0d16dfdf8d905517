"""The gap finder against byte sets the test keeps itself: what stays uncovered for the delay is a gap,
a rotated file keeps its gaps, a deleted or truncated one is reported lost once and never again."""

from __future__ import annotations

import os
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from logstream.flume.line_gaps import GapTracker, HostFile, scan_host_files, uncovered
from logstream.line_ids import LineRanges

DELAY = 600.0


@settings(max_examples=300, deadline=None)
@given(added=st.lists(st.tuples(st.integers(0, 300), st.integers(1, 40)), max_size=30), end=st.integers(0, 360))
def test_uncovered_is_every_byte_before_the_end_that_no_range_holds(added, end):
    ranges = LineRanges()
    held = set()
    for start, length in added:
        ranges.add("h f", start, start + length)
        held.update(range(start, start + length))
    parts = uncovered(ranges.ranges("h f"), end)
    assert {at for start, stop in parts for at in range(start, stop)} == set(range(end)) - held
    assert all(a < b < c for (a, b), (c, _d) in zip(parts, parts[1:]))  # merged, in order


def _write(path, lines: list[bytes]) -> list[tuple[int, int]]:
    """Append lines; their [start, end) as the test counts them."""
    spans = []
    with path.open("ab") as handle:
        for line in lines:
            start = handle.tell()
            handle.write(line + b"\n")
            spans.append((start, handle.tell()))
    return spans


def _own_file_id(path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0] + b"\n"
    return f"{os.stat(path).st_ino}-{zlib.crc32(first[:4096]):x}"


def test_host_files_are_named_as_the_l1_names_them_and_a_half_written_last_line_waits(tmp_path):
    spans = _write(tmp_path / "app.log", [b"first line", b"second"])
    with (tmp_path / "app.log").open("ab") as handle:
        handle.write(b"no newline yet")
    (tmp_path / "other.txt").write_bytes(b"not matched\n")

    [found] = scan_host_files("web1", tmp_path, r".*\.log(\.[0-9]+)?")

    assert found.file_id == _own_file_id(tmp_path / "app.log")
    assert found.key == f"web1 {found.file_id}"
    assert found.complete_end == spans[-1][1]
    assert found.size == spans[-1][1] + len(b"no newline yet")


def test_only_what_stays_uncovered_for_the_delay_is_a_gap(tmp_path):
    log = tmp_path / "app.log"
    spans = _write(log, [b"line %d" % i for i in range(10)])
    [file] = scan_host_files("web1", tmp_path, r".*\.log")
    covered = LineRanges()
    for start, end in spans[:3] + spans[5:7]:  # lines 3-4 and 7-9 missing
        covered.add(file.key, start, end)
    tracker = GapTracker()

    first = tracker.observe([file], covered, now=1000.0, delay=DELAY, hosts={"web1"})
    assert first.gaps == [] and first.pending_bytes == (spans[4][1] - spans[3][0]) + (spans[9][1] - spans[7][0])

    # lines 7-9 arrive meanwhile, and more lines are written: those are new, not gaps
    for start, end in spans[7:]:
        covered.add(file.key, start, end)
    more = _write(log, [b"late %d" % i for i in range(3)])
    [file] = scan_host_files("web1", tmp_path, r".*\.log")
    tracker = GapTracker.from_json(tracker.to_json())  # the state goes through its file
    second = tracker.observe([file], covered, now=1000.0 + DELAY, delay=DELAY, hosts={"web1"})

    assert [(gap.host, gap.file_id, gap.start, gap.end, gap.first_seen) for gap in second.gaps] == [
        ("web1", file.file_id, spans[3][0], spans[4][1], 1000.0)]
    assert second.gaps[0].path == str(log)
    assert second.pending_bytes == more[-1][1] - more[0][0]
    third = tracker.observe([file], covered, now=1000.0 + 2 * DELAY, delay=DELAY, hosts={"web1"})
    assert [(gap.start, gap.end, gap.first_seen) for gap in third.gaps] == [
        (spans[3][0], spans[4][1], 1000.0), (more[0][0], more[-1][1], 1000.0 + DELAY)]


def test_a_rotated_file_keeps_its_gap_and_a_deleted_one_is_reported_lost_once(tmp_path):
    spans = _write(tmp_path / "app.log", [b"line %d" % i for i in range(6)])
    [file] = scan_host_files("web1", tmp_path, r".*\.log(\.[0-9]+)?")
    covered = LineRanges()
    covered.add(file.key, spans[0][0], spans[2][1])
    tracker = GapTracker()
    tracker.observe([file], covered, now=0.0, delay=DELAY, hosts={"web1"})

    os.rename(tmp_path / "app.log", tmp_path / "app.log.1")
    _write(tmp_path / "app.log", [b"a new file"])
    files = scan_host_files("web1", tmp_path, r".*\.log(\.[0-9]+)?")
    later = tracker.observe(files, covered, now=DELAY, delay=DELAY, hosts={"web1"})
    assert [(gap.file_id, gap.start, gap.end, gap.path) for gap in later.gaps] == [
        (file.file_id, spans[3][0], spans[5][1], str(tmp_path / "app.log.1"))]

    os.remove(tmp_path / "app.log.1")
    files = scan_host_files("web1", tmp_path, r".*\.log(\.[0-9]+)?")
    gone = tracker.observe(files, covered, now=2 * DELAY, delay=DELAY, hosts={"web1"})
    assert [(gap.file_id, gap.start, gap.end) for gap in gone.lost] == [(file.file_id, spans[3][0], spans[5][1])]
    assert "no longer on its host" in gone.lost[0].reason
    # the new app.log (never taken) is a gap of its own by now
    [new] = files
    assert [(gap.file_id, gap.start, gap.end) for gap in gone.gaps] == [(new.file_id, 0, new.size)]
    assert new.file_id != file.file_id
    again = tracker.observe(files, covered, now=3 * DELAY, delay=DELAY, hosts={"web1"})
    assert again.lost == [] and [gap.file_id for gap in again.gaps] == [new.file_id]


def test_a_truncated_file_is_reported_lost_once_and_another_hosts_state_is_kept(tmp_path):
    log = tmp_path / "app.log"
    spans = _write(log, [b"same first line"] + [b"line %d" % i for i in range(5)])
    [file] = scan_host_files("web1", tmp_path, r".*\.log")
    covered = LineRanges()
    covered.add(file.key, spans[0][0], spans[1][1])
    other = HostFile("web2", tmp_path / "elsewhere.log", "7-ab", complete_end=100, size=100)
    tracker = GapTracker()
    tracker.observe([file, other], covered, now=0.0, delay=DELAY, hosts={"web1", "web2"})

    # emptied in place down to its first two lines (same inode, same first line: the same file id)
    with log.open("r+b") as handle:
        handle.truncate(spans[1][1])
    [file] = scan_host_files("web1", tmp_path, r".*\.log")
    truncated = tracker.observe([file], covered, now=DELAY, delay=DELAY, hosts={"web1"})

    assert [(gap.start, gap.end) for gap in truncated.lost] == [(spans[2][0], spans[-1][1])]
    assert "truncated" in truncated.lost[0].reason and truncated.gaps == []
    assert tracker.observe([file], covered, now=2 * DELAY, delay=DELAY, hosts={"web1"}).lost == []
    # web2 was not looked at: its uncovered bytes are still remembered from the first time
    web2 = tracker.observe([other], covered, now=2 * DELAY, delay=DELAY, hosts={"web2"})
    assert [(gap.start, gap.end, gap.first_seen) for gap in web2.gaps] == [(0, 100, 0.0)]
