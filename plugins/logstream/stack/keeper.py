"""The stack's keeper: starts PostgreSQL and Airflow's own processes again when they crash.

Airflow keeps the pipeline's services running (``services_health``, Storm's daemons, Flume's agents),
but no task runs while Airflow's database or its scheduler is down: what Airflow itself runs on needs
a keeper beside it, as systemd or Compose's restart policy is in a deployment. ``stack up`` starts the
keeper (a process of its own, logging to ``<stack>/run/keeper.log``); ``stack down`` stops it first.

Only a crashed process (gone with its pid file left) is started again: one stopped on purpose
(``stack down SERVICE``, a test stopping a part of Airflow) stays stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from logstream.stack.config import StackConfig
from logstream.stack.process import ServiceError
from logstream.stack.service import Health, Service

CHECK_SECONDS = 2.0
# the names of kept_services(), which imports their classes only when the keeper runs
KEPT = ("postgres", "airflow")


def kept_services(config: StackConfig) -> list[Service]:
    """What the keeper keeps, in start order: PostgreSQL before Airflow, which needs it."""
    from logstream.stack.airflow import Airflow
    from logstream.stack.postgres import Postgres

    return [Postgres(config), Airflow(config)]


def keep(config: StackConfig, report: Callable[[str], None], *, check_seconds: float = CHECK_SECONDS) -> None:
    """Every ``check_seconds``, as long as the keeper's process runs: start the crashed processes of
    the kept services and say so with the seconds until the service was healthy."""
    services = kept_services(config)
    report(f"keeping {', '.join(service.name for service in services)} running (checks every {check_seconds:.0f}s)")
    while True:
        for service in services:
            reap_children()
            found = time.time()
            try:
                started, seconds = service.start_crashed()
            except Exception as err:  # noqa: BLE001 - whatever a start meets (it crashed again meanwhile), the keeper goes on
                problem = str(err) if isinstance(err, ServiceError) else f"{type(err).__name__}: {err}"
                report(f"{service.name} crashed and could not be started again (next try in {check_seconds:.0f}s): {problem}")
                continue
            if started:
                report(f"{', '.join(started)} found crashed at {time.strftime('%H:%M:%S', time.gmtime(found))} UTC: "
                       f"started again, {service.name} healthy after {seconds:.1f}s")
        time.sleep(check_seconds)


def reap_children() -> None:
    """Collect the keeper's children that ended: a process it started and that died stays a zombie
    until then, and a zombie postmaster's pid in ``postmaster.pid`` stops a new one from starting
    ("lock file already exists"). Called between starts, never while a start waits for a child."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Keeper(Service):
    """The keeper's process, a service of the stack: started after the others, stopped before them."""

    name = "keeper"
    start_timeout = 30.0

    def launch(self) -> None:
        config = self.config
        env = {**os.environ, "LOGSTREAM_STACK_DIR": str(config.home), "PYTHONPATH": str(config.repo / "plugins"),
               **{f"LOGSTREAM_{name.upper()}_PORT": str(port) for name, port in config.ports.items()}}
        self.process.start([config.python, "-u", "-m", "logstream", "stack", "keep"], env=env, cwd=config.repo)

    def health(self) -> Health:
        running = self.is_running()
        return Health(running, f"keeps {', '.join(KEPT)} running; log {self.process.log_file}" if running
                      else "not running")
