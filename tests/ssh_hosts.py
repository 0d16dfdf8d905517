"""A real OpenSSH server on loopback, configured as the cluster's front-end hosts run theirs
(``include/cluster/sshd/sshd_config``, keys made by ``ssh-keygen``), for the tests of what reads a
host's files over SSH."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ports import unused_port

from logstream.cluster.ssh import PRIVSEP_DIR, SSHD, ssh_client, ssh_connection, ssh_key
from logstream.stack.config import REPO_ROOT
from logstream.stack.service import render_template


@dataclass
class LoopbackSshd:
    port: int
    client_key: Path
    host_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen

    def client(self):
        return ssh_client("127.0.0.1", self.port, key_file=self.client_key, host_key=self.host_key)

    def connection(self) -> dict:
        """As :meth:`logstream.cluster.ssh.SshServer.connection` gives it, for this server."""
        return ssh_connection("127.0.0.1", self.port, key_file=self.client_key, host_key=self.host_key)


def start_loopback_sshd(home: Path, timeout: float = 30.0) -> LoopbackSshd:
    host_key = ssh_key(home / "ssh_host_ed25519_key", "test-host")
    client_key = ssh_key(home / "client_ed25519", "test-client")
    (home / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
    port = unused_port()
    config = render_template(REPO_ROOT / "include" / "cluster" / "sshd" / "sshd_config", home / "sshd_config",
                             port=port, address="127.0.0.1", host_key=host_key, authorized_keys=home / "authorized_keys")
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    log = (home / "sshd.log").open("ab")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(8).startswith(b"SSH-2.0"):
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"sshd did not serve on 127.0.0.1:{port}: {(home / 'sshd.log').read_text()[-2000:]}")
        time.sleep(0.1)
    public = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    return LoopbackSshd(port, client_key, public, process)


def stop_loopback_sshd(sshd: LoopbackSshd) -> None:
    sshd.process.terminate()
    sshd.process.wait(timeout=30)
