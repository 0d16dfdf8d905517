"""The local stack's processes as the tests crash them."""

from __future__ import annotations


def kill_9(process) -> int:
    """SIGKILL a ManagedProcess (its pid file stays: a crash, which the health tasks repair) and wait
    until that pid is gone; its pid."""
    assert process.pid() is not None, f"{process.name} runs before it is killed"
    return process.crash()
