"""The lines a refill re-reads: whole lines of the range, bodies as TAILDIR sends them."""

from __future__ import annotations

from logstream.flume.line_refill import lines_in_range


def test_a_range_gives_its_whole_lines_with_their_offsets_and_bodies_as_taildir_sends_them(tmp_path):
    path = tmp_path / "app.log"
    written = [b"plain", b"crlf\r", b"", b"\xff\x00 binary", b"last"]
    data = b"\n".join(written) + b"\n" + b"half written"
    path.write_bytes(data)
    ends = [index + 1 for index, byte in enumerate(data) if byte == ord("\n")]
    starts = [0] + ends[:-1]
    # TAILDIR drops the \r before a \n; a last line without its newline is not whole yet
    bodies = [b"plain", b"crlf", b"", b"\xff\x00 binary", b"last"]

    everything = list(lines_in_range(path, 0, len(data)))
    middle = list(lines_in_range(path, starts[1], ends[3]))

    assert [(line.start, line.end, line.body) for line in everything] == list(zip(starts, ends, bodies))
    assert [(line.start, line.end, line.body) for line in middle] == list(zip(starts[1:4], ends[1:4], bodies[1:4]))


def test_a_range_longer_than_a_read_block_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("logstream.flume.line_refill.READ_BLOCK", 7)
    path = tmp_path / "app.log"
    lines = [b"x" * length for length in (0, 3, 11, 6, 20, 1)]
    path.write_bytes(b"".join(line + b"\n" for line in lines))

    found = list(lines_in_range(path, 0, path.stat().st_size))

    assert [line.body for line in found] == lines
    assert found[-1].end == path.stat().st_size
