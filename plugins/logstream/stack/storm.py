"""Storm: Nimbus and one Supervisor (which launches real worker JVMs), from the Maven jars.

There is no Storm distribution on Maven Central, so the service lays out the ``storm.home`` the
daemons expect under the stack's data folder: ``lib/`` (the daemons' jars), ``lib-worker/`` (what a
worker's classpath needs: storm-client and its dependencies), ``extlib/`` (empty: topologies bring
their own code), ``conf/storm.yaml`` and ``log4j2/{cluster,worker}.xml`` (rendered from
``include/stack/storm/``). Health comes from Nimbus itself, over Thrift.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from logstream.stack.config import STORM_SLOTS, StackConfig
from logstream.stack.process import ServiceError, running_processes
from logstream.stack.service import Health, Service, still_running

# reload4j and its binding clash with log4j-over-slf4j (both define org.apache.log4j)
_NOT_IN_LIB = re.compile(r"^(reload4j|slf4j-reload4j)-")
# where each Supervisor registers (storm.zookeeper.root's default, /storm)
SUPERVISORS_NODE = "/storm/supervisors"
# storm-client's compile dependencies: the classpath of every worker
_WORKER_LIB = re.compile(
    r"^(storm-client|storm-shaded-deps|slf4j-api|log4j-api|log4j-core|log4j-slf4j2-impl|log4j-over-slf4j|"
    r"bc\w+-jdk18on|jakarta\.activation|jakarta\.xml\.bind-api|javax\.annotation-api|kryo|minlog|objenesis|"
    r"reflectasm|asm|metrics-(core|graphite|jvm|jmx))-\d"
)


def lay_out_storm_home(config: StackConfig, home: Path) -> None:
    """Create (again) a storm.home's jar links (``lib/``, ``lib-worker/``), its empty ``extlib/`` and its
    log configs; its ``conf/storm.yaml`` is the caller's."""
    jars = sorted(Path(config.classpath("storm").removesuffix("/*")).glob("*.jar"))
    for folder, wanted in (("lib", lambda n: not _NOT_IN_LIB.match(n)), ("lib-worker", _WORKER_LIB.match)):
        target = home / folder
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for jar in jars:
            if wanted(jar.name):
                (target / jar.name).symlink_to(jar)
    (home / "extlib").mkdir(parents=True, exist_ok=True)
    for log_config in ("cluster.xml", "worker.xml"):
        target = home / "log4j2" / log_config
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config.include_dir / "stack" / "storm" / log_config, target)


def storm_daemon_argv(config: StackConfig, home: Path, log_dir: Path, main_class: str, log_name: str) -> list[str]:
    """A Storm daemon's JVM (Nimbus, a Supervisor) on a storm.home laid out by :func:`lay_out_storm_home`."""
    return [
        config.java(),
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dstorm.home={home}",
        f"-Dstorm.log.dir={log_dir}",
        f"-Dlogfile.name={log_name}",
        f"-Dlog4j.configurationFile={home / 'log4j2' / 'cluster.xml'}",
        "-cp",
        f"{home / 'lib'}/*:{home / 'conf'}",
        main_class,
    ]


def storm_daemon_environment(home: Path) -> dict[str, str]:
    # workers inherit it: their Python components must import the topology jar's code, not a checkout's
    # nor Airflow's settings and connections, when a task (storm_daemons) starts a daemon
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("AIRFLOW")}
    env["STORM_CONF_DIR"] = str(home / "conf")
    return env


class Storm(Service):
    name = "storm"
    port_names = ("storm_nimbus", "storm_supervisor")
    process_names = ("storm-nimbus", "storm-supervisor")
    start_timeout = 120.0

    @property
    def home(self) -> Path:
        return self.data_dir / "home"

    @property
    def nimbus_process(self):
        return self.processes[0]

    @property
    def supervisor_process(self):
        return self.processes[1]

    @property
    def slot_ports(self) -> list[int]:
        first = self.port("storm_slots")
        return list(range(first, first + STORM_SLOTS))

    def check_ports_free(self) -> None:
        super().check_ports_free()
        from logstream.stack.process import ServiceError, port_is_free

        taken = [port for port in self.slot_ports if not port_is_free(port, self.config.host)]
        if taken:
            raise ServiceError(f"cannot start storm: worker slot ports {taken} are taken "
                               "(set LOGSTREAM_STORM_SLOTS_PORT to the first of four free ports)")

    def lay_out_home(self) -> None:
        """Create (again) storm.home: jar links, the cluster config and the log configs."""
        lay_out_storm_home(self.config, self.home)
        self.render(
            "storm/storm.yaml",
            self.home / "conf" / "storm.yaml",
            host=self.config.host,
            zookeeper_port=self.port("zookeeper"),
            local_dir=self.data_dir / "local",
            log_dir=self.log_dir,
            nimbus_port=self.port("storm_nimbus"),
            supervisor_port=self.port("storm_supervisor"),
            slot_ports=", ".join(str(port) for port in self.slot_ports),
            ui_port=self.port("storm_ui"),
            logviewer_port=self.port("storm_logviewer"),
        )

    @property
    def log_dir(self) -> Path:
        return self.config.run_dir / "storm-logs"

    def _daemon_argv(self, main_class: str, log_name: str) -> list[str]:
        return storm_daemon_argv(self.config, self.home, self.log_dir, main_class, log_name)

    def _environment(self) -> dict[str, str]:
        return storm_daemon_environment(self.home)

    def launch(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lay_out_home()
        self.launch_missing()

    def launch_missing(self) -> None:
        if not self.nimbus_process.is_running():
            self.launch_nimbus()
        if not self.supervisor_process.is_running():
            self.supervisor_process.start(
                self._daemon_argv("org.apache.storm.daemon.supervisor.Supervisor", "supervisor.log"),
                env=self._environment(), cwd=self.home,
            )

    def launch_nimbus(self) -> None:
        self.nimbus_process.start(
            self._daemon_argv("org.apache.storm.daemon.nimbus.Nimbus", "nimbus.log"),
            env=self._environment(), cwd=self.home,
        )

    def start_crashed(self) -> tuple[list[str], float]:
        """Start Nimbus and the Supervisor where their process crashed (gone with its pid file left:
        one stopped by ``stack down`` stays stopped), and wait until Nimbus leads and a started
        Supervisor is registered by a ZooKeeper session of its own. The daemons started and the
        seconds until Storm was whole again (none and 0 when none had crashed).

        A SIGKILLed Supervisor's node in ZooKeeper (``/storm/supervisors/<id>``, the id kept across
        restarts) outlives it until its session expires; the new one updates that node meanwhile, then
        makes it again: until then Nimbus may list no Supervisor for a moment. Waits in the caller's
        process (up to ``start_timeout``), as ``stack up`` does."""
        with self.launching():
            crashed = [process for process in self.processes if process.crashed()]
            if not crashed:
                return [], 0.0
            started = time.monotonic()
            dead_sessions = None
            if self.supervisor_process in crashed:
                try:
                    dead_sessions = set(self.supervisor_sessions().values())
                except ServiceError:
                    pass  # ZooKeeper unreachable: started all the same; registration judged by Nimbus alone
            self.launch_missing()

        def whole() -> bool:
            if not (still_running(crashed) and self.health().ok):
                return False
            if dead_sessions is None:
                return True
            try:
                return bool(set(self.supervisor_sessions().values()) - dead_sessions)
            except ServiceError:
                return False

        self.nimbus_process.wait_until(whole, timeout=self.start_timeout,
                                       what="Nimbus leading with the started daemons registered")
        return [process.name for process in crashed], time.monotonic() - started

    def supervisor_sessions(self) -> dict[str, int]:
        """Each Supervisor registered in ZooKeeper with the session holding its node."""
        from kazoo.client import KazooClient
        from kazoo.exceptions import KazooException
        from kazoo.handlers.threading import KazooTimeoutError

        address = f"{self.config.host}:{self.port('zookeeper')}"
        client = KazooClient(hosts=address, timeout=10)
        try:
            client.start(timeout=10)
        except KazooTimeoutError as err:
            client.close()
            raise ServiceError(f"ZooKeeper at {address} unreachable: {err}") from err
        try:
            sessions = {}
            for supervisor in client.get_children(SUPERVISORS_NODE) if client.exists(SUPERVISORS_NODE) else []:
                stat = client.exists(f"{SUPERVISORS_NODE}/{supervisor}")
                if stat is not None:
                    sessions[supervisor] = stat.ephemeralOwner
            return sessions
        except KazooException as err:
            raise ServiceError(f"ZooKeeper at {address}: {err}") from err
        finally:
            client.stop()
            client.close()

    def restart_nimbus(self) -> None:
        """Stop Nimbus alone and start it again (workers and the supervisor go on)."""
        with self.launching():
            self.nimbus_process.stop()
            self.launch_nimbus()
        self.nimbus_process.wait_until(lambda: self.health().ok, timeout=self.start_timeout, what="a healthy Nimbus")

    def nimbus(self):
        from logstream.storm.nimbus import NimbusClient

        return NimbusClient(host=self.config.host, port=self.port("storm_nimbus"), timeout_ms=10_000)

    def health(self) -> Health:
        from thriftpy2.transport import TTransportException

        try:
            summary = self.nimbus().cluster_summary()
        except (OSError, TTransportException) as err:
            return Health(False, f"Nimbus not answering on {self.config.host}:{self.port('storm_nimbus')}: {err}")
        leaders = [n for n in summary.nimbuses if n.isLeader]
        slots = sum(s.num_workers for s in summary.supervisors)
        used = sum(s.num_used_workers for s in summary.supervisors)
        detail = (f"Nimbus {leaders[0].version if leaders else '(no leader)'} on "
                  f"{self.config.host}:{self.port('storm_nimbus')}, {len(summary.supervisors)} supervisor(s), "
                  f"{used}/{slots} slots used, {len(summary.topologies)} topologies")
        return Health(bool(leaders) and bool(summary.supervisors), detail)


def worker_pids(topology_id: str) -> list[int]:
    """Worker JVMs (``org.apache.storm.daemon.worker.Worker``, not their LogWriter) of a topology, from /proc."""
    pids = []
    for process in running_processes():
        arguments = process.arguments()
        # the worker's LogWriter (its parent) names the Worker class in its arguments too
        if ("org.apache.storm.daemon.worker.Worker" in arguments and topology_id in arguments
                and "org.apache.storm.LogWriter" not in arguments):
            pids.append(process.pid)
    return pids
