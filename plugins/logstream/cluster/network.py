"""Hosts on one box: Linux network namespaces joined by a bridge, each with an address of its own.

A host here is what a machine of the cluster is to its processes: its own network stack (own
loopback, own address on the cluster's subnet, own firewall) and its own directory tree. Every
process of a host starts inside its namespace (``ip netns exec``), so it reaches the others only
over the bridge, as across a real network, and a firewall rule in one namespace cuts that host
alone. The box itself (the root namespace) holds the bridge's address, the first of the subnet:
the tests and the CLI reach the hosts from there. Needs root (CI runs as root).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


class NetworkError(RuntimeError):
    """The namespaces, bridge or firewall could not be set up."""


def run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise NetworkError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


@dataclass(frozen=True)
class Host:
    """One host of the cluster: a network namespace with one address on the bridge."""

    name: str
    address: str
    namespace: str
    home: Path

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run on this host. ``ip netns exec`` switches namespace and then execs, so the
        pid it starts under is the program's own."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def exists(self) -> bool:
        return Path("/run/netns", self.namespace).exists()

    def pids(self) -> list[int]:
        """Every process running on this host (in its network namespace)."""
        if not self.exists():
            return []
        return [int(pid) for pid in run(["ip", "netns", "pids", self.namespace], check=False).stdout.split()]

    def kill_all(self, timeout: float = 30.0) -> int:
        """SIGKILL every process of the host, as a power cut would, and wait until they are gone; the
        number killed."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while alive := [pid for pid in pids if _alive(pid)]:
            if time.monotonic() > deadline:
                raise NetworkError(f"processes {alive} of host {self.name} outlived SIGKILL by {timeout:.0f}s")
            time.sleep(0.1)
        return len(pids)

    def cut_off(self, peers: Iterable[Host]) -> None:
        """Drop every packet between this host and ``peers`` (both ways, in this host's firewall
        only): the link is gone, the processes on both sides run on."""
        for peer in peers:
            for chain, side in (("INPUT", "-s"), ("OUTPUT", "-d")):
                run(self.argv(["iptables", "-w", "-A", chain, side, peer.address, "-j", "DROP",
                               "-m", "comment", "--comment", "logstream-cut"]))

    def heal(self) -> None:
        """Remove every cut of :meth:`cut_off` from this host's firewall."""
        rules = run(self.argv(["iptables", "-w", "-S"])).stdout.splitlines()
        for rule in rules:
            if "logstream-cut" in rule and rule.startswith("-A "):
                run(self.argv(["iptables", "-w", "-D", *shlex.split(rule[3:])]))

    def is_cut(self) -> bool:
        return "logstream-cut" in run(self.argv(["iptables", "-w", "-S"])).stdout


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not reaped by its parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass(frozen=True)
class HostNetwork:
    """The bridge and the namespaces of one cluster. ``prefix`` names both (``<prefix>br`` and
    ``<prefix>-<host>``) so that two clusters, or a cluster and other namespaces, never meet."""

    subnet: str
    prefix: str
    home: Path

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    @property
    def gateway(self) -> str:
        """The box's own address on the bridge."""
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    def host(self, name: str, index: int) -> Host:
        """Host ``name`` at the subnet's (index + 2)th address (the first is the box's)."""
        network = ipaddress.ip_network(self.subnet)
        address = network.network_address + index + 2
        if address not in network or address == network.broadcast_address:
            raise NetworkError(f"subnet {self.subnet} has no room for host {name} (#{index + 1})")
        return Host(name, str(address), f"{self.prefix}-{name}", self.home / "hosts" / name)

    def create(self, hosts: Iterable[Host]) -> None:
        """Make the bridge and the hosts that are missing (idempotent: existing ones are kept)."""
        if os.geteuid() != 0:
            raise NetworkError("hosts are network namespaces: `cluster up` must run as root")
        prefix_len = ipaddress.ip_network(self.subnet).prefixlen
        if run(["ip", "link", "show", self.bridge], check=False).returncode != 0:
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
            run(["ip", "addr", "add", f"{self.gateway}/{prefix_len}", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        # bridged frames pass the box's FORWARD chain when br_netfilter is loaded; a DROP policy there
        # (Docker sets one) must not split the cluster
        accept = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]
        if run(["iptables", "-w", "-C", *accept], check=False).returncode != 0:
            run(["iptables", "-w", "-I", *accept])
        for index, host in enumerate(hosts):
            host.home.mkdir(parents=True, exist_ok=True)
            if host.exists():
                continue
            veth = f"{self.prefix}{index}"
            run(["ip", "netns", "add", host.namespace])
            run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.namespace])
            run(["ip", "link", "set", veth, "master", self.bridge, "up"])
            run(host.argv(["ip", "addr", "add", f"{host.address}/{prefix_len}", "dev", "eth0"]))
            run(host.argv(["ip", "link", "set", "eth0", "up"]))
            run(host.argv(["ip", "link", "set", "lo", "up"]))

    def destroy(self, hosts: Iterable[Host]) -> None:
        """Kill what still runs on the hosts, remove them and the bridge."""
        for host in hosts:
            if host.exists():
                host.kill_all()
                run(["ip", "netns", "del", host.namespace], check=False)
        run(["iptables", "-w", "-D", "FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"], check=False)
        run(["ip", "link", "del", self.bridge], check=False)
