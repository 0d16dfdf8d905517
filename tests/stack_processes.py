"""The local stack's processes as the tests crash them."""

from __future__ import annotations

import os
import signal

from online_stats import wait_for


def kill_9(process) -> int:
    """SIGKILL a ManagedProcess (its pid file stays: a crash, which the health tasks repair) and wait
    until it is gone; its pid."""
    pid = process.pid()
    assert pid is not None, f"{process.name} runs before it is killed"
    os.kill(pid, signal.SIGKILL)
    # not ManagedProcess.wait_until, which fails when the process is gone between its two looks; and
    # the killed pid gone, not the process: a supervisor (the stack's keeper restarts PostgreSQL
    # within its 2-second check) may have started the next one before the first look
    wait_for(lambda: process.pid() != pid, 30, f"{process.name} (pid {pid}) gone")
    return pid
