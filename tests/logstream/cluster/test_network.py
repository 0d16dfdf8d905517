"""Hosts as network namespaces: each reaches the others over the bridge, and a cut in one host's
firewall parts exactly that link, both ways, until it is healed."""

from __future__ import annotations

import subprocess
import sys


def connects(host, address: str, port: int) -> bool:
    """Whether a TCP connection from ``host`` (None: the box itself) to ``address:port`` opens within 2 s."""
    probe = [sys.executable, "-c",
             f"import socket; socket.create_connection(({address!r}, {port}), timeout=2).close()"]
    return subprocess.run(host.argv(probe) if host else probe, capture_output=True).returncode == 0


def test_a_cut_parts_one_link_both_ways_and_heal_restores_it(cluster):
    kafka1, zk1, worker1 = cluster.hosts["kafka1"], cluster.hosts["zk1"], cluster.hosts["worker1"]
    assert connects(zk1, kafka1.address, 9092) and connects(kafka1, zk1.address, 2181)

    kafka1.cut_off([zk1])
    try:
        assert kafka1.is_cut()
        assert not connects(zk1, kafka1.address, 9092)
        assert not connects(kafka1, zk1.address, 2181)
        # the other links stay: another host, and the box
        assert connects(worker1, kafka1.address, 9092)
        assert connects(None, kafka1.address, 9092)
    finally:
        kafka1.heal()
    assert not kafka1.is_cut()
    assert connects(zk1, kafka1.address, 9092) and connects(kafka1, zk1.address, 2181)


def test_a_host_has_its_own_loopback(cluster):
    """ZooKeeper listens on the zk hosts' addresses only: a process on another host that dials its
    own 127.0.0.1:2181 finds nothing, as on a separate machine."""
    assert connects(cluster.hosts["zk1"], cluster.hosts["zk1"].address, 2181)
    assert not connects(cluster.hosts["worker1"], "127.0.0.1", 2181)
