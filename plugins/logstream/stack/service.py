"""What every service of the local stack offers: start, health, stop."""

from __future__ import annotations

import fcntl
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from logstream.stack.config import StackConfig
from logstream.stack.process import ManagedProcess, ServiceError, log_tail, port_is_free


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


class Service:
    """A service of the local stack. Subclasses name their ports and processes and start them."""

    name: str = ""
    port_names: tuple[str, ...] = ()
    process_names: tuple[str, ...] = ()
    start_timeout: float = 120.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes = [ManagedProcess(name, config.run_dir) for name in self.process_names or (self.name,)]

    @property
    def process(self) -> ManagedProcess:
        return self.processes[0]

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir / self.name

    def port(self, name: str) -> int:
        return self.config.ports[name]

    def is_running(self) -> bool:
        return any(process.is_running() for process in self.processes)

    def check_ports_free(self) -> None:
        for name in self.port_names:
            port = self.port(name)
            if not port_is_free(port, self.config.host):
                raise ServiceError(
                    f"cannot start {self.name}: port {port} on {self.config.host} is taken by another program "
                    f"(set LOGSTREAM_{name.upper()}_PORT to use another port)"
                )

    def is_complete(self) -> bool:
        """Every process of the service runs."""
        return all(process.is_running() for process in self.processes)

    def launch(self) -> None:
        """Start the processes without waiting for them to be healthy."""
        raise NotImplementedError

    def launch_missing(self) -> None:
        """Start the processes of a partly running service that are down (a service of one process,
        or one that cannot start a part alone, says so)."""
        running = [process.name for process in self.processes if process.is_running()]
        raise ServiceError(f"{self.name} is partly running ({', '.join(running)}) and cannot start its other "
                           f"parts alone: `stack down {self.name}` first")

    @contextmanager
    def launching(self) -> Iterator[None]:
        """One launcher of the service at a time (``stack up``, a health task starting it again, a
        test): two would start two processes of it, and the pid file would keep the one that lost the port."""
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.config.run_dir / f"{self.name}.launch.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def start_crashed(self) -> tuple[list[str], float]:
        """Start the processes of the service that crashed (gone with their pid file left: one
        stopped by ``stack down`` stays stopped) and wait until the service is healthy again. The
        processes started and the seconds until healthy (none and 0 when none had crashed)."""
        with self.launching():
            crashed = [process for process in self.processes if process.crashed()]
            if not crashed:
                return [], 0.0
            started = time.monotonic()
            self.clear_after_crash(crashed)
            if self.is_running():
                self.launch_missing()
            else:
                self.launch()

        self.process.wait_until(lambda: still_running(crashed) and self.health().ok, timeout=self.start_timeout,
                                what="a healthy state")
        self.after_healthy()
        return [process.name for process in crashed], time.monotonic() - started

    def clear_after_crash(self, crashed: list[ManagedProcess]) -> None:
        """Before ``crashed`` start again: clear what they left that would stop them (nothing here;
        what a crashed process started may finish its work, as Airflow's running tasks)."""

    def wait_healthy(self) -> None:
        self.process.wait_until(lambda: self.health().ok, timeout=self.start_timeout, what="a healthy state")

    def health(self) -> Health:
        raise NotImplementedError

    def after_started_on_purpose(self) -> None:
        """Once a start by ``stack up`` (not a crash's restart) is healthy: note what tells it apart."""

    def started_on_purpose(self) -> datetime | None:
        """When the service, as it runs now, was started by ``stack up``, as far as it notes it (None)."""
        return None

    def after_healthy(self) -> None:
        """One-off set-up once the service answers (databases, folders); must be idempotent."""

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def render(self, template: str, target: Path, **values: object) -> Path:
        """Render a config template from include/stack/ into the service's run folder."""
        return render_template(self.config.include_dir / "stack" / template, target, **values)

    def java_argv(self, component: str, main_class: str, *args: str, heap: str = "512m") -> list[str]:
        return java_argv(self.config, component, main_class, *args, heap=heap)


def still_running(started: list[ManagedProcess]) -> bool:
    """True, or a ServiceError naming the first of the ``started`` processes that exited, with its log's tail."""
    for process in started:
        if not process.is_running():
            raise ServiceError(f"{process.name} exited after its start; last lines of {process.log_file}:\n"
                               f"{log_tail(process.log_file)}")
    return True


def render_template(source: Path, target: Path, **values: object) -> Path:
    """Write ``source`` with its ``${name}`` placeholders filled in to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(string.Template(source.read_text()).substitute({k: str(v) for k, v in values.items()}))
    return target


def java_argv(config: StackConfig, component: str, main_class: str, *args: str, heap: str = "512m",
              classpath_first: Path | None = None) -> list[str]:
    """A JVM running ``main_class`` of a component's jars (``classpath_first``, a config folder,
    ahead of them), logging to the console."""
    log_config = config.include_dir / "stack" / "log4j2-console.properties"
    classpath = config.classpath(component)
    return [
        config.java(),
        f"-Xmx{heap}",
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        f"{classpath_first}:{classpath}" if classpath_first else classpath,
        main_class,
        *args,
    ]
