"""Starts, checks and stops the whole local stack in dependency order."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from logstream.stack.config import StackConfig
from logstream.stack.keeper import KEPT
from logstream.stack.service import Health, Service

# Services in start order; each list entry starts together, the next waits for it. Flume comes after
# Kafka: its L2 agents deliver only into topics that exist.
def _service_classes() -> list[list[type[Service]]]:
    from logstream.stack.airflow import Airflow
    from logstream.stack.flume import Flume
    from logstream.stack.hdfs import Hdfs
    from logstream.stack.hive import Hive
    from logstream.stack.kafka import Kafka
    from logstream.stack.keeper import Keeper
    from logstream.stack.mail import Mail
    from logstream.stack.postgres import Postgres
    from logstream.stack.storm import Storm
    from logstream.stack.zookeeper import ZooKeeper

    return [[Postgres, ZooKeeper, Kafka, Hdfs, Mail], [Hive, Airflow, Storm, Flume], [Keeper]]


class LocalStack:
    def __init__(self, config: StackConfig | None = None, *, only: Iterable[str] | None = None,
                 report: Callable[[str], None] = print) -> None:
        self.config = config or StackConfig()
        wanted = set(only) if only else None
        if wanted and wanted & set(KEPT):  # what keeps them comes with them
            wanted.add("keeper")
        self.waves = [
            [cls(self.config) for cls in wave if wanted is None or cls.name in wanted]
            for wave in _service_classes()
        ]
        self.report = report

    @property
    def services(self) -> list[Service]:
        return [service for wave in self.waves for service in wave]

    def service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def up(self) -> float:
        """Start what is not running (of a partly running service, the parts that are down) and wait
        until everything is healthy; returns the seconds it took."""
        started = time.monotonic()
        for wave in self.waves:
            launched = []
            for service in wave:
                with service.launching():  # not while a health task starts it again
                    if self._start(service):
                        launched.append(service)
            for service in wave:
                service.wait_healthy()
                service.after_healthy()
                if service in launched:
                    service.after_started_on_purpose()
                self.report(f"{service.name:<10} up    {service.health().detail}")
        return time.monotonic() - started

    def _start(self, service: Service) -> bool:
        """Start what of ``service`` is down; whether anything was."""
        if service.is_complete():
            return False
        if service.is_running():  # a part died: start only what is down
            down = [process.name for process in service.processes if not process.is_running()]
            self.report(f"starting {', '.join(down)} ({service.name} is partly running)")
            service.launch_missing()
            return True
        service.check_ports_free()
        self.report(f"starting {service.name}")
        service.launch()
        return True

    def status(self) -> dict[str, Health]:
        result = {}
        for service in self.services:
            if not service.is_running():
                result[service.name] = Health(False, "not running")
            else:
                result[service.name] = service.health()
        return result

    def down(self) -> None:
        self.stop(self.services)

    def stop(self, services: Iterable[Service]) -> None:
        """Stop ``services``: the keeper first, then Airflow, since each starts again what it finds
        dead (the keeper Airflow and PostgreSQL, Airflow's DAGs Flume's agents and the other services),
        then the rest in reverse start order."""
        chosen = {id(service) for service in services}
        ordered = sorted((service for service in reversed(self.services) if id(service) in chosen),
                         key=lambda service: (service.name != "keeper", service.name != "airflow"))
        for service in ordered:
            if service.is_running():
                self.report(f"stopping {service.name}")
            service.stop()
