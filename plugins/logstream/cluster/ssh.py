"""OpenSSH on the front-end hosts: how Airflow's tasks read a host's log files (the line-gap finder,
the refill, the TAILDIR lag) when the host is not the machine the task runs on.

Each front-end host runs Debian's ``sshd`` (``include/cluster/sshd/sshd_config``): keys only, one host
key per host and one generated client key for Airflow (both git-ignored, in ``.cluster/``). The hosts
of this box share its disk; so that a task cannot read a host's files by a path of its own, ``sshd``
runs in a mount namespace where the Flume folders are shown at :attr:`SshServer.view` (an empty folder
everywhere else): only through the host's SSH does that path hold anything.
"""

from __future__ import annotations

import base64
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from logstream.cluster.network import Host
from logstream.cluster.services import HostService
from logstream.stack.config import StackConfig
from logstream.stack.process import ServiceError
from logstream.stack.service import Health

SSHD = "/usr/sbin/sshd"
SSH_PORT = 22
# sshd's privilege separation folder (Debian's package makes it at boot, not at install)
PRIVSEP_DIR = Path("/run/sshd")


def ssh_key(path: Path, comment: str) -> Path:
    """An ed25519 key pair at ``path`` (and ``path``.pub), made once with ``ssh-keygen``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        done = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(f"ssh-keygen for {path} failed: {done.stderr.strip()}")
    return path


def client_key(credentials_home: Path) -> Path:
    """The key Airflow's tasks log in to the front-end hosts with."""
    return ssh_key(credentials_home / "credentials" / "ssh" / "airflow_ed25519", "logstream-airflow")


def ssh_client(address: str, port: int, *, key_file: Path, host_key: str, timeout: float = 10.0):
    """A ``paramiko.SSHClient`` logged in as root with ``key_file``, accepting only ``host_key``
    (``ssh-ed25519 AAAA...``): what Airflow's SSH hook makes of :meth:`SshServer.connection`."""
    import paramiko

    client = paramiko.SSHClient()
    key_type, key_text = host_key.split()[:2]
    client.get_host_keys().add(f"[{address}]:{port}" if port != SSH_PORT else address, key_type,
                               paramiko.Ed25519Key(data=base64.b64decode(key_text)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(address, port=port, username="root", key_filename=str(key_file), timeout=timeout,
                   allow_agent=False, look_for_keys=False)
    return client


def ssh_connection(address: str, port: int, *, key_file: Path, host_key: str) -> dict:
    """The Airflow connection (``ssh`` type, as an ``AIRFLOW_CONN_*`` JSON value) that logs in as root
    with ``key_file`` and accepts ``host_key`` alone."""
    return {"conn_type": "ssh", "host": address, "port": port, "login": "root",
            "extra": {"key_file": str(key_file), "host_key": host_key, "no_host_key_check": False,
                      "allow_host_key_change": False, "conn_timeout": 10}}


class SshServer(HostService):
    """``sshd`` on a front-end host, its Flume folders shown at :attr:`view`.

    :param credentials_home: the cluster's folder (``credentials/ssh/`` holds the client key)
    :param shown: the folders shown at :attr:`view`, by the name they have there
    :param view: the folder where the host (and only it) shows them
    """

    kind = "sshd"
    start_timeout = 30.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, *, credentials_home: Path,
                 shown: dict[str, Path], view: Path) -> None:
        super().__init__(stack, host, node_id)
        self.credentials_home = credentials_home
        self.shown = shown
        self.view = view

    @property
    def host_key(self) -> Path:
        return ssh_key(self.conf_dir / "ssh_host_ed25519_key", f"logstream-{self.host.name}")

    def public_host_key(self) -> str:
        """``ssh-ed25519 AAAA...``, as a known-hosts line names it."""
        return " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])

    def launch(self) -> None:
        key = client_key(self.credentials_home)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        authorized = self.conf_dir / "authorized_keys"
        authorized.write_text(Path(f"{key}.pub").read_text())
        config = self.render("sshd/sshd_config", port=SSH_PORT, address=self.host.address, host_key=self.host_key,
                             authorized_keys=authorized)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        binds: list[str] = []
        for name, folder in self.shown.items():
            folder.mkdir(parents=True, exist_ok=True)
            (self.view / name).mkdir(parents=True, exist_ok=True)
            binds += [str(folder), str(self.view / name)]
        isolate = ('while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; shift; exec "$@"')
        argv: Sequence[str] = ["unshare", "--mount", "--propagation", "private", "sh", "-c", isolate, "sh", *binds,
                               "--", SSHD, "-D", "-e", "-f", str(config)]
        self.process.start(self.host.argv(argv))

    def health(self) -> Health:
        try:
            with socket.create_connection((self.host.address, SSH_PORT), timeout=2) as sock:
                banner = sock.recv(64)
        except OSError as err:
            return Health(False, f"not answering on {self.host.address}:{SSH_PORT}: {err}")
        return Health(banner.startswith(b"SSH-2.0-"), banner.decode(errors="replace").strip() or "no banner")

    def client(self):
        """A logged-in ``paramiko.SSHClient`` to this host (the caller closes it)."""
        return ssh_client(self.host.address, SSH_PORT, key_file=client_key(self.credentials_home),
                          host_key=self.public_host_key())

    def connection(self) -> dict:
        """The Airflow connection (``ssh`` type, as an ``AIRFLOW_CONN_*`` JSON value) that logs in with
        Airflow's key and accepts this host's key alone."""
        return ssh_connection(self.host.address, SSH_PORT, key_file=client_key(self.credentials_home),
                              host_key=self.public_host_key())
