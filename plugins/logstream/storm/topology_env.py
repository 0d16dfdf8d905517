"""The topology's Python environment on the Supervisor hosts: built once, shipped, unpacked.

A Storm worker runs the topology's Python components with the ``streamparse_run`` named in the jar.
On one box that is the submitter's own virtualenv; across hosts it must be a path every Supervisor
host has, with an environment of its own behind it. As streamparse's ``sparse submit`` makes a
virtualenv per worker host from ``virtualenvs/<topology>.txt``, this builds that environment once
(``include/storm/virtualenvs/<topology>.txt``, pinned by ``constraints.txt``) at the path the hosts
will have it at, packs it, and each Supervisor host fetches the archive over the network and unpacks
it into its own tree at that same path (a virtualenv is not relocatable: its scripts name their
interpreter by absolute path). The Supervisor hosts need only the base Python the environment was
made with, as hosts of one image have.

The building and the fetching run in private mount namespaces where the shared path is a bind
mount of the build folder (or of the host's own folder), so the box itself never holds an
environment at that path. The fetch side (:func:`fetch`, ``python -m logstream.storm.topology_env
fetch URL SHA256 DEST``) uses the standard library only: it runs on a host with no environment yet.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MARKER = ".logstream-archive"


class TopologyEnvError(RuntimeError):
    """The environment could not be built, fetched or unpacked."""


@dataclass(frozen=True)
class EnvArchive:
    path: Path
    sha256: str  # of the archive's bytes: what a host checks after the download

    @property
    def name(self) -> str:
        return self.path.name


def base_python() -> str:
    """The interpreter the environment is made from: this one's base, not a virtualenv's link."""
    return os.path.realpath(sys.executable)


def build(requirements: Path, constraints: Path, *, mount_point: Path, out_dir: Path,
          python: str | None = None) -> EnvArchive:
    """The archive of a virtualenv made at ``mount_point`` with ``requirements`` installed; kept in
    ``out_dir`` under a name hashed from its inputs, so unchanged inputs reuse it. Needs root (a
    private mount namespace)."""
    python = python or base_python()
    inputs = hashlib.sha256()
    for part in (requirements.read_bytes(), constraints.read_bytes(), python.encode(), str(mount_point).encode()):
        inputs.update(hashlib.sha256(part).digest())
    archive = out_dir / f"topology-env-{inputs.hexdigest()[:16]}.tar.gz"
    if not archive.exists():
        build_dir = out_dir / f".build-{os.getpid()}"
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        mount_point.mkdir(parents=True, exist_ok=True)
        script = ('mount --bind "$1" "$2" && "$3" -m venv "$2" && '
                  '"$2/bin/pip" install --quiet --disable-pip-version-check -r "$4" -c "$5"')
        done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                               str(build_dir), str(mount_point), python, str(requirements), str(constraints)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise TopologyEnvError(f"building the topology environment failed:\n{done.stderr[-3000:]}")
        partial = archive.with_name(archive.name + f".{os.getpid()}.part")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(build_dir, arcname=".")
        shutil.rmtree(build_dir)
        partial.rename(archive)
    return EnvArchive(archive, _file_sha256(archive))


@contextmanager
def served(archive: EnvArchive, address: str) -> Iterator[str]:
    """Serve ``archive`` over HTTP on ``address`` (an ephemeral port) while the block runs; yields
    its URL."""
    folder = archive.path.parent

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="topology-env-server", daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}/{archive.name}"
    finally:
        server.shutdown()
        server.server_close()


def installed(dest: Path) -> str | None:
    """The name of the archive unpacked at ``dest``, or None."""
    try:
        return (dest / MARKER).read_text().strip()
    except OSError:
        return None


def fetch(url: str, sha256: str, dest: Path) -> None:
    """Download the archive at ``url``, check its digest and unpack it as ``dest`` (replacing an
    older one whole: unpacked aside, then renamed). Run on the host that will use it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    download = dest.parent / f".{dest.name}.download"
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=30) as response, download.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as err:
        raise TopologyEnvError(f"fetching {url} failed: {err}") from err
    if digest.hexdigest() != sha256:
        download.unlink()
        raise TopologyEnvError(f"{url} has sha256 {digest.hexdigest()}, not {sha256}: not unpacked")
    staging = dest.parent / f".{dest.name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    with tarfile.open(download) as tar:
        tar.extractall(staging, filter="tar")
    (staging / MARKER).write_text(url.rsplit("/", 1)[1] + "\n")
    download.unlink()
    old = dest.parent / f".{dest.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "fetch":
        sys.exit("usage: python -m logstream.storm.topology_env fetch URL SHA256 DEST")
    try:
        fetch(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    except TopologyEnvError as err:
        sys.exit(str(err))
