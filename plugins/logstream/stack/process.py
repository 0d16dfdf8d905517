"""A daemon process the local stack starts, finds again by its pid file, and stops.

Each service of the stack is one or more of these. The process runs in its own session so that
stopping it also stops the children it forked (spark-submit's JVM, Airflow's workers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be started or did not become healthy."""


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class ManagedProcess:
    """One long-running process with a pid file and a log file under the stack's run folder."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        pid = self._recorded_pid()
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        if _is_zombie(pid):
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    @property
    def stopping_file(self) -> Path:
        return self.run_dir / f"{self.name}.stopping"

    def crashed(self) -> bool:
        """Gone without being stopped: its pid file is still there (``stop`` removes it, and says
        it is stopping while it waits for the process to end)."""
        return self.pid_file.exists() and not self.stopping_file.exists() and self.pid() is None

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stopping_file.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=user,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout: float = 30.0, *, drain: bool = False, first: signal.Signals = signal.SIGTERM) -> bool:
        """Stop the process and all it started: SIGTERM (or ``first``) to its process group (``drain``:
        to the process alone, which then lets its children finish their work, as Airflow's scheduler
        lets its running tasks finish), SIGKILL after ``timeout``; then SIGKILL what is left of its
        session: children in process groups of their own (Airflow's task processes) would outlive it
        and go on working against services being stopped. Returns whether it was running."""
        pid = self.pid()
        leader = self._recorded_pid()
        if leader is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.stopping_file.touch()
        try:
            self._stop(pid, timeout, drain, first)
        finally:
            self.pid_file.unlink(missing_ok=True)
            self.stopping_file.unlink(missing_ok=True)
        return pid is not None

    def _stop(self, pid: int | None, timeout: float, drain: bool, first: signal.Signals) -> None:
        if pid is not None:
            if drain:
                _signal(pid, first)
            else:
                _signal_group(pid, first)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.pid() is not None:
                time.sleep(0.2)
            if self.pid() is not None:
                _signal_group(pid, signal.SIGKILL)
                time.sleep(0.5)
        self.kill_leftovers()

    def crash(self, timeout: float = 30.0) -> int:
        """SIGKILL the process, as a crash would (its pid file stays, nothing is flushed), and wait
        until that pid is gone: not until the process is down, for a supervisor (the stack's keeper)
        may have started the next one before the first look. Returns the killed pid."""
        pid = self.pid()
        if pid is None:
            raise ServiceError(f"{self.name} is not running before the crash")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while self.pid() == pid:
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.name} (pid {pid}) still runs {timeout:.0f}s after its SIGKILL")
            time.sleep(0.1)
        return pid

    def kill_leftovers(self, timeout: float = 30.0) -> None:
        """SIGKILL what is left of the process's session once it is gone (children in process groups
        of their own: Airflow's task processes; a killed postmaster's backends) and wait until they
        are gone."""
        leader = self._recorded_pid()
        if leader is None:
            return
        deadline = time.monotonic() + timeout
        while (left := session_members(leader)) and time.monotonic() < deadline:
            for member in left:
                _signal(member, signal.SIGKILL)
            time.sleep(0.1)

    def _recorded_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def wait_until(self, check: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll ``check`` until it is true; fail with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not self.is_running():
                raise ServiceError(
                    f"{self.name} exited before {what}; last lines of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            time.sleep(0.5)
        raise ServiceError(
            f"{self.name} did not reach {what} within {timeout:.0f}s; last lines of {self.log_file}:\n"
            f"{log_tail(self.log_file)}"
        )


@dataclass(frozen=True)
class RunningProcess:
    """One process as ``/proc/<pid>/stat`` shows it."""

    pid: int
    state: str
    parent: int
    session: int
    cpu_seconds: float  # user + system time so far

    def arguments(self) -> list[str]:
        """Its command line's arguments ([] once it is gone). A process that set its title (Airflow's
        task runner, PostgreSQL's backends) may end it without a NUL, or pad it with several."""
        try:
            raw = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return []
        raw = raw.removesuffix(b"\0")
        return raw.decode(errors="replace").split("\0") if raw else []

    def command(self) -> str:
        """Its command line, the arguments joined by spaces ("" once it is gone)."""
        return " ".join(self.arguments()).strip()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def running_processes() -> Iterator[RunningProcess]:
    """Every process of this machine's (or namespace's) /proc, zombies included."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command: state, ppid, process group, session, ..., utime (12th), stime (13th)
        yield RunningProcess(pid=int(entry.name), state=fields[0], parent=int(fields[1]), session=int(fields[3]),
                             cpu_seconds=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS)


def session_members(session: int) -> list[int]:
    """The live processes of the session ``session`` (a process started with ``start_new_session``
    leads the session of its own pid, and whatever it forks stays in it unless it calls setsid)."""
    return [process.pid for process in running_processes() if process.state != "Z" and process.session == session]


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
