"""What runs where on the cluster's hosts, read from /proc (for the cluster's tests)."""

from __future__ import annotations

from pathlib import Path


def component_processes(host, env_path: Path) -> list[int]:
    """The topology's Python components on ``host``: processes running its environment's streamparse_run."""
    run = str(env_path / "bin" / "streamparse_run").encode()
    pids = []
    for pid in host.pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if run in argv:
            pids.append(pid)
    return pids
