"""ManagedProcess with real processes: ``stop`` ends what the process started even in process groups of
their own (Airflow's task processes outlived ``stack down`` and reported the services it stopped as
failed), lets a draining process finish its children's work, and a process being stopped is not
taken for a crashed one (which a keeper would start again)."""

from __future__ import annotations

import os
import sys
import threading
import time

from online_stats import wait_for

from logstream.stack.process import ManagedProcess, session_members

# a leader that forks a child into a process group of its own (as Airflow's task runner does), then
# waits; on SIGTERM it waits for the child when told to drain, else exits at once
LEADER = """
import os, signal, sys, time
child = os.fork()
if child == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(float(sys.argv[1]))
    open(sys.argv[2], "w").write("finished")
    os._exit(0)
def stop(signum, frame):
    if sys.argv[3] == "drain":
        os.waitpid(child, 0)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(sys.argv[2] + ".child", "w").write(str(child))
while True:
    time.sleep(1)
"""


def started(tmp_path, name: str, child_seconds: float, mode: str) -> tuple[ManagedProcess, int, str]:
    process = ManagedProcess(name, tmp_path)
    done = str(tmp_path / f"{name}.done")
    process.start([sys.executable, "-c", LEADER, str(child_seconds), done, mode])
    wait_for(lambda: os.path.exists(done + ".child"), 30, "the child forked")
    return process, int(open(done + ".child").read()), done


def test_stop_kills_the_children_in_process_groups_of_their_own(tmp_path):
    process, child, done = started(tmp_path, "leader", 600, "exit")
    leader = process.pid()
    assert os.getpgid(child) == child != leader and child in session_members(leader), "the premise"

    assert process.stop(timeout=10)

    wait_for(lambda: child not in session_members(leader), 10, "the child gone")
    assert not os.path.exists(done) and not process.pid_file.exists() and not process.crashed()


def test_a_draining_stop_lets_the_children_finish_their_work(tmp_path):
    process, child, done = started(tmp_path, "drained", 3, "drain")

    assert process.stop(timeout=60, drain=True)

    assert open(done).read() == "finished"


def test_a_process_being_stopped_is_not_taken_for_crashed(tmp_path):
    """While ``stop`` waits for the process to end, its pid file is still there; the keeper, looking
    then, must not see a crash."""
    process, child, done = started(tmp_path, "slow", 4, "drain")
    looks: list[bool] = []
    stopping = threading.Thread(target=process.stop, kwargs={"timeout": 60, "drain": True})
    stopping.start()
    while stopping.is_alive():
        looks.append(process.crashed())
        time.sleep(0.01)
    assert len(looks) > 100 and not any(looks)
    assert open(done).read() == "finished" and not process.crashed()
