"""How far each L1's TAILDIR is behind its host's files: bytes of complete lines past its saved position.

TAILDIR saves, every few seconds, how far it has read each file (``taildir_position.json``: a JSON
list of ``inode``, ``pos``, ``file``). A host file's lag is its complete lines' end (TAILDIR sends
whole lines only) minus the saved position of its inode: the whole file when TAILDIR has no position
for it yet. The agent's channel counters say nothing about lines it has not read: an L1 whose source
is stuck (its channel full and blocked, a file it cannot open) looks idle and healthy while its
host's files grow. Two readings some seconds apart tell a reader that is behind but moving from one
that does not move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from logstream.flume.health import AgentProblem
from logstream.flume.host_files import HostFiles, LocalHostFiles
from logstream.flume.line_gaps import scan_host_files


@dataclass(frozen=True)
class TaildirLag:
    """One reading of an L1: each host file's complete end and saved position, and every saved position."""

    host: str
    # path -> (end of its complete lines, saved position of its inode or 0)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    # inode -> saved position, as the position file says
    positions: dict[int, int] = field(default_factory=dict)

    @property
    def behind(self) -> int:
        return sum(max(0, end - position) for end, position in self.files.values())

    def waiting(self) -> str:
        """The files with bytes not read yet, as ``name at position of end``."""
        return ", ".join(f"{Path(path).name} at {position:,} of {end:,}"
                         for path, (end, position) in sorted(self.files.items()) if end > position)


def read_taildir_lag(host: str, log_dir: Path, file_pattern: str, position_file: Path,
                     files: HostFiles | None = None) -> TaildirLag | None:
    """The L1's reading now, its files and position file read where ``files`` reads its host's folders
    (here by default); None when its position file cannot be read (not saved yet, or an agent on
    another machine whose host is not reachable here)."""
    try:
        saved = json.loads((files or LocalHostFiles()).read_bytes(str(position_file)))
        positions = {int(entry["inode"]): int(entry["pos"]) for entry in saved}
    except (OSError, ValueError, TypeError, KeyError):
        return None
    ends = {}
    for found in scan_host_files(host, log_dir, file_pattern, files):
        inode = int(found.file_id.split("-", 1)[0])
        ends[str(found.path)] = (found.complete_end, positions.get(inode, 0))
    return TaildirLag(host, ends, positions)


def taildir_problems(before: TaildirLag | None, after: TaildirLag | None, *, max_lag_bytes: int,
                     seconds: float) -> list[AgentProblem]:
    """``taildir_behind`` when more than ``max_lag_bytes`` of complete lines wait; ``taildir_not_reading``
    when bytes waited at both readings and no saved position moved between them."""
    if after is None:
        return []
    problems = []
    if after.behind > max_lag_bytes:
        problems.append(AgentProblem(after.host, "taildir_behind",
                                     f"{after.behind:,} bytes of its host's complete lines not read yet (threshold "
                                     f"{max_lag_bytes:,}): {after.waiting()}"))
    moved = before is None or any(position > before.positions.get(inode, -1)
                                  for inode, position in after.positions.items())
    if before is not None and before.behind > 0 and after.behind > 0 and not moved:
        problems.append(AgentProblem(after.host, "taildir_not_reading",
                                     f"{after.behind:,} bytes wait and its read position did not move in "
                                     f"{seconds:.0f}s: {after.waiting()}"))
    return problems
