"""TAILDIR's lag from host files and a position file written here as TAILDIR writes it."""

from __future__ import annotations

import json
import os

from logstream.flume.taildir_lag import read_taildir_lag, taildir_problems


def test_lag_counts_complete_lines_past_each_inodes_position_and_whole_files_not_tracked(tmp_path):
    logs, positions = tmp_path / "logs", tmp_path / "taildir_position.json"
    logs.mkdir()
    (logs / "app.log.1").write_bytes(b"a" * 99 + b"\n")  # rotated: tracked by its inode, read to the end
    (logs / "app.log").write_bytes(b"b" * 49 + b"\n" + b"c" * 29 + b"\n" + b"partial")
    (logs / "new.log").write_bytes(b"d" * 9 + b"\n")  # not in the position file yet
    (logs / "notes.txt").write_bytes(b"ignored\n")
    inode = {name: os.stat(logs / name).st_ino for name in ("app.log.1", "app.log")}
    positions.write_text(json.dumps([{"inode": inode["app.log.1"], "pos": 100, "file": str(logs / "app.log")},
                                     {"inode": inode["app.log"], "pos": 50, "file": str(logs / "app.log")}]))

    lag = read_taildir_lag("web1", logs, r".*\.log(\.[0-9]+)?", positions)

    # app.log: 30 bytes of its one complete line past 50 (the partial line not counted); new.log whole
    assert lag.behind == 30 + 10
    assert lag.waiting() == "app.log at 50 of 80, new.log at 0 of 10"
    assert read_taildir_lag("web1", logs, r".*\.log", tmp_path / "elsewhere.json") is None


def test_behind_over_the_threshold_and_not_reading_when_no_position_moved(tmp_path):
    logs, positions = tmp_path / "logs", tmp_path / "taildir_position.json"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"x" * 999 + b"\n")
    inode = os.stat(logs / "app.log").st_ino

    def reading(position: int):
        positions.write_text(json.dumps([{"inode": inode, "pos": position, "file": str(logs / "app.log")}]))
        return read_taildir_lag("web1", logs, r".*\.log", positions)

    stuck = taildir_problems(reading(400), reading(400), max_lag_bytes=500, seconds=5)
    assert [(p.agent, p.kind) for p in stuck] == [("web1", "taildir_behind"), ("web1", "taildir_not_reading")]
    assert "600 bytes wait and its read position did not move in 5s" in stuck[1].detail
    assert taildir_problems(reading(400), reading(600), max_lag_bytes=500, seconds=5) == []  # moving, under 500
    assert taildir_problems(reading(1000), reading(1000), max_lag_bytes=500, seconds=5) == []  # nothing waits
    assert taildir_problems(None, None, max_lag_bytes=500, seconds=5) == []  # not readable here
