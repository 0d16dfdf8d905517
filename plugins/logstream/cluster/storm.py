"""Storm on the cluster: Nimbus on a host of its own, Supervisors on theirs, each Supervisor host with
the topology's Python environment of its own.

A Supervisor host gets the environment the way a worker host of a real cluster does: it fetches the
archive built once by the submitting side (:mod:`logstream.storm.topology_env`) over the network and
unpacks it into its own tree. Its Supervisor (and so every worker JVM and Python component it
launches) runs in a mount namespace of its own where that tree is at the path the topology names
(:attr:`StormSupervisor.env_path`, the same on every host) and the submitter's virtualenv is an empty
folder: a component that reached for the submitter's files would find nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from logstream.cluster.network import Host
from logstream.cluster.services import HostService
from logstream.stack.config import REPO_ROOT, StackConfig
from logstream.stack.process import ServiceError, port_is_open
from logstream.stack.service import Health, render_template
from logstream.stack.storm import lay_out_storm_home, storm_daemon_argv, storm_daemon_environment
from logstream.storm import topology_env
from logstream.storm.nimbus import NimbusClient

NIMBUS_PORT = 6627
SUPERVISOR_PORT = 6628


class StormDaemon(HostService):
    """Nimbus or a Supervisor: a storm.home in the host's own folder, configured for the cluster."""

    component = "storm"
    main_class = ""
    start_timeout = 150.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, *, nimbus: Host,
                 zookeepers: Sequence[Host]) -> None:
        super().__init__(stack, host, node_id)
        self.nimbus_host = nimbus
        self.zookeepers = zookeepers

    @property
    def home(self) -> Path:
        return self.host.home / "storm"

    @property
    def log_dir(self) -> Path:
        return self.host.home / "logs" / "storm"

    def nimbus(self) -> NimbusClient:
        return NimbusClient(host=self.nimbus_host.address, port=NIMBUS_PORT, timeout_ms=5_000)

    def lay_out_home(self) -> None:
        lay_out_storm_home(self.stack, self.home)
        render_template(self.stack.include_dir / "cluster" / "storm" / "storm.yaml", self.home / "conf" / "storm.yaml",
                        zookeeper_servers=", ".join(f'"{zk.address}"' for zk in self.zookeepers),
                        local_dir=self.data_dir, address=self.host.address, log_dir=self.log_dir,
                        nimbus=self.nimbus_host.address)

    def daemon_argv(self) -> list[str]:
        return storm_daemon_argv(self.stack, self.home, self.log_dir, self.main_class, f"{self.kind}.log")

    def launch(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lay_out_home()
        self.process.start(self.host.argv(self.daemon_argv()), env=storm_daemon_environment(self.home), cwd=self.home)


class StormNimbus(StormDaemon):
    kind = "storm-nimbus"
    main_class = "org.apache.storm.daemon.nimbus.Nimbus"

    def health(self) -> Health:
        try:
            summary = self.nimbus().cluster_summary()
        except OSError as err:
            return Health(False, f"Nimbus not answering on {self.nimbus_host.address}:{NIMBUS_PORT}: {err}")
        leader = any(n.isLeader for n in summary.nimbuses)
        return Health(leader, f"{'leader' if leader else 'no leader yet'}, {len(summary.supervisors)} supervisor(s), "
                              f"{len(summary.topologies)} topologies")


class StormSupervisor(StormDaemon):
    """A Supervisor, its workers and their Python components in a mount namespace where the host's
    own topology environment is at :attr:`env_path` and the submitter's virtualenv is hidden."""

    kind = "storm-supervisor"
    main_class = "org.apache.storm.daemon.supervisor.Supervisor"

    def __init__(self, stack: StackConfig, host: Host, node_id: int, *, nimbus: Host, zookeepers: Sequence[Host],
                 env_path: Path) -> None:
        super().__init__(stack, host, node_id, nimbus=nimbus, zookeepers=zookeepers)
        self.env_path = env_path

    @property
    def host_env_dir(self) -> Path:
        """The host's own copy of the topology environment (what :attr:`env_path` shows on this host)."""
        return self.host.home / "opt" / "topology-env"

    def provision(self, url: str, archive: topology_env.EnvArchive) -> bool:
        """Fetch and unpack the topology environment on this host unless it has it; whether it did."""
        if topology_env.installed(self.host_env_dir) == archive.name:
            return False
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "plugins")}
        self.run_once(self.host.argv([topology_env.base_python(), "-m", "logstream.storm.topology_env", "fetch",
                                      url, archive.sha256, str(self.host_env_dir)]), "fetching the topology environment",
                      env=env)
        return True

    def launch(self) -> None:
        if topology_env.installed(self.host_env_dir) is None:
            raise ServiceError(f"{self.name}: no topology environment on {self.host.name} (provision it first)")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lay_out_home()
        self.env_path.mkdir(parents=True, exist_ok=True)
        hidden = Path(sys.prefix)  # the submitter's virtualenv
        isolate = ('mount --bind "$1" "$2" && mount -t tmpfs -o size=1m,mode=0755 submitter-env-hidden "$3" '
                   '&& shift 3 && exec "$@"')
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", isolate, "sh",
                str(self.host_env_dir), str(self.env_path), str(hidden), *self.daemon_argv()]
        self.process.start(self.host.argv(argv), env=storm_daemon_environment(self.home), cwd=self.home)

    def health(self) -> Health:
        """Healthy when its Thrift port answers and Nimbus lists it among the supervisors."""
        if not port_is_open(SUPERVISOR_PORT, self.host.address):
            return Health(False, f"not answering on {self.host.address}:{SUPERVISOR_PORT}")
        try:
            supervisors = self.nimbus().cluster_summary().supervisors
        except OSError as err:
            return Health(False, f"Nimbus not answering: {err}")
        mine = [s for s in supervisors if s.host == self.host.address]
        return Health(bool(mine), f"{mine[0].num_used_workers}/{mine[0].num_workers} slots used" if mine
                      else "not registered with Nimbus yet")
