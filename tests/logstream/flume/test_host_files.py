"""A front-end host's folder read through a real sshd (on loopback) gives what the test wrote: the
same files, ids, complete ends and lines as read here, a missing folder or file said as such, and a
file the host replaced between the listing and the read left for the next scan."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
from ssh_hosts import start_loopback_sshd, stop_loopback_sshd

from logstream.flume.host_files import LocalHostFiles, SshHostFiles
from logstream.flume.line_gaps import scan_host_files
from logstream.flume.line_refill import lines_in_range
from logstream.flume.taildir_lag import read_taildir_lag

PATTERN = r".*\.log(\.[0-9]+)?"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = start_loopback_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_loopback_sshd(server)


@pytest.fixture
def remote(sshd):
    client = sshd.client()
    files = SshHostFiles(client, name="web1")
    yield files
    files.close()
    client.close()


def _write(path: Path, lines: list[bytes]) -> list[tuple[int, int, bytes]]:
    """Append lines; each one's [start, end) and body, as the test counts them."""
    spans = []
    with path.open("ab") as handle:
        for line in lines:
            start = handle.tell()
            handle.write(line + b"\n")
            spans.append((start, handle.tell(), line))
    return spans


def _own_file_id(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0] + b"\n"
    return f"{os.stat(path).st_ino}-{zlib.crc32(first[:4096]):x}"


def test_a_hosts_folder_over_ssh_holds_the_files_ids_and_ends_the_test_wrote(tmp_path, remote):
    written = {
        "app.log": _write(tmp_path / "app.log", [b"a,1,2,3", b"b" * 5000, b"c"]),
        "app.log.1": _write(tmp_path / "app.log.1", [b"rotated first", b"rotated second"]),
        "with space.log": _write(tmp_path / "with space.log", [b"x"]),
    }
    with (tmp_path / "app.log").open("ab") as handle:
        handle.write(b"half a line")
    (tmp_path / "notes.txt").write_bytes(b"not a log\n")
    (tmp_path / "sub.log").mkdir()  # a folder whose name matches is no file
    (tmp_path / "sub.log" / "inner.log").write_bytes(b"not in the folder itself\n")

    found = scan_host_files("web1", tmp_path, PATTERN, remote)

    assert sorted(file.path.name for file in found) == sorted(written)
    for file in found:
        spans = written[file.path.name]
        assert file.file_id == _own_file_id(file.path), file.path
        assert file.complete_end == spans[-1][1]
        assert file.size == file.path.stat().st_size
        assert file.mtime == pytest.approx(file.path.stat().st_mtime, abs=1e-3)
    assert found == scan_host_files("web1", tmp_path, PATTERN, LocalHostFiles())
    assert scan_host_files("web1", tmp_path / "not-there", PATTERN, remote) == []


def test_lines_of_a_range_over_ssh_are_the_lines_the_test_wrote(tmp_path, remote):
    # 3 MB: more than one read block and many SFTP requests
    spans = _write(tmp_path / "app.log", [f"10.0.{i % 250}.1,{i % 13},{i},300,{'p' * (i % 500)}".encode()
                                          for i in range(12_000)])
    first, last = 1_000, 11_000
    start, end = spans[first][0], spans[last - 1][1]

    got = list(lines_in_range(tmp_path / "app.log", start, end, remote))

    assert [(line.start, line.end, line.body) for line in got] == spans[first:last]
    assert got == list(lines_in_range(tmp_path / "app.log", start, end))
    with pytest.raises(FileNotFoundError):
        list(lines_in_range(tmp_path / "gone.log", 0, 10, remote))


def test_taildir_lag_over_ssh_reads_the_hosts_position_file(tmp_path, remote):
    spans = _write(tmp_path / "app.log", [b"one", b"two", b"three"])
    positions = tmp_path / "taildir_position.json"
    positions.write_text(f'[{{"inode": {os.stat(tmp_path / "app.log").st_ino}, "pos": {spans[0][1]}, '
                         f'"file": "{tmp_path / "app.log"}"}}]')

    lag = read_taildir_lag("web1", tmp_path, PATTERN, positions, remote)

    assert lag.behind == spans[-1][1] - spans[0][1]
    assert lag == read_taildir_lag("web1", tmp_path, PATTERN, positions)
    assert read_taildir_lag("web1", tmp_path, PATTERN, tmp_path / "no-position.json", remote) is None


class _ReplacedOnFirstRead(SshHostFiles):
    """The host rotates ``app.log`` (a new file at its path) after the folder's first listing, before
    the file is opened."""

    def __init__(self, client, path: Path) -> None:
        super().__init__(client, name="web1")
        self.path = path
        self.replaced = False

    def open(self, path, start=0, end=None):
        if path == str(self.path) and not self.replaced:
            self.replaced = True
            self.path.rename(self.path.with_name("app.log.1"))
            _write(self.path, [b"a new file's first line"])
        return super().open(path, start, end)


def test_a_file_replaced_between_the_listing_and_its_read_waits_for_the_next_scan(tmp_path, sshd):
    _write(tmp_path / "app.log", [b"the old file's first line"])
    client = sshd.client()
    try:
        racing = _ReplacedOnFirstRead(client, tmp_path / "app.log")
        found = scan_host_files("web1", tmp_path, r"app\.log", racing)
        # the id read then would name the new file's inode with the old file's first line: left out
        assert found == [] and racing.replaced
        [again] = scan_host_files("web1", tmp_path, r"app\.log", racing)
        assert again.file_id == _own_file_id(tmp_path / "app.log")
        racing.close()
    finally:
        client.close()
