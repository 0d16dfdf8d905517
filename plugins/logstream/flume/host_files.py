"""A front-end host's log folder as the gap finder, the refill and the TAILDIR lag read it: on this
machine (the local stack, where the hosts' folders are here) or on the host itself over SSH (hosts of
their own: the folder listed by one ``find`` the host runs, bytes read through SFTP).

SFTP tells no inode, and the line id's file id is the inode with the CRC of the first line; so a
file is listed (``find -printf``, inode included), its first line read, and the folder listed again:
a path whose inode changed between the two listings (a rotation replaced the file) is left for the
next round rather than named with another file's first line.
"""

from __future__ import annotations

import shlex
import stat as stat_modes
from dataclasses import dataclass
from typing import IO, Protocol


class HostFilesError(RuntimeError):
    """The host's folder could not be listed or read (SSH refused, a command failed)."""


@dataclass(frozen=True)
class ListedFile:
    path: str
    inode: int
    size: int
    mtime: float


class HostFiles(Protocol):
    """Where a host's files are read: :class:`LocalHostFiles` or :class:`SshHostFiles`."""

    def list_files(self, folder: str) -> list[ListedFile]:
        """The regular files directly in ``folder``, sorted by path; none when it does not exist."""

    def open(self, path: str, start: int = 0, end: int | None = None) -> IO[bytes]:
        """``path`` opened for reading at ``start``; ``end`` says how far the reader will read (a
        remote reader asks for that much at once). ``FileNotFoundError`` when it is gone."""

    def read_bytes(self, path: str) -> bytes:
        """The whole of a small file; ``FileNotFoundError`` when it is not there."""


class LocalHostFiles:
    """The hosts' folders are on this machine (the local stack, or one box's shared disk)."""

    def list_files(self, folder: str) -> list[ListedFile]:
        import os

        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        listed = []
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # rotated away between the listing and the stat
                continue
            if stat_modes.S_ISREG(info.st_mode):
                listed.append(ListedFile(entry.path, info.st_ino, info.st_size, info.st_mtime))
        return sorted(listed, key=lambda file: file.path)

    def open(self, path: str, start: int = 0, end: int | None = None) -> IO[bytes]:
        handle = open(path, "rb")  # noqa: SIM115 - the caller closes it
        handle.seek(start)
        return handle

    def read_bytes(self, path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()


# inode, size, mtime and path of each regular file, NUL-terminated (a path may hold any byte but NUL)
_FIND = "find {folder} -mindepth 1 -maxdepth 1 -type f -printf '%i %s %T@ %p\\0'"
# the folder's absence is an empty listing, as locally, not an error
_MISSING = 3


class SshHostFiles:
    """The host's folders read over SSH (``client``: a connected ``paramiko.SSHClient``, as Airflow's
    SSH hook gives it). One SFTP session serves every read; :meth:`close` ends it, not the client.

    :param client: the SSH connection to the host
    :param name: the host, for errors
    :param timeout: seconds a listing may take
    """

    def __init__(self, client, *, name: str, timeout: float = 60.0) -> None:
        self.client = client
        self.name = name
        self.timeout = timeout
        self._sftp = None

    @property
    def sftp(self):
        if self._sftp is None:
            self._sftp = self.client.open_sftp()
        return self._sftp

    def list_files(self, folder: str) -> list[ListedFile]:
        quoted = shlex.quote(folder)
        command = f"[ -d {quoted} ] || exit {_MISSING}; " + _FIND.format(folder=quoted)
        _, stdout, stderr = self.client.exec_command(command, timeout=self.timeout)
        out = stdout.read()
        status = stdout.channel.recv_exit_status()
        if status == _MISSING:
            return []
        if status != 0:
            raise HostFilesError(f"{self.name}: listing {folder} failed (exit {status}): "
                                 f"{stderr.read().decode(errors='replace').strip()}")
        listed = []
        for record in out.split(b"\0"):
            if not record:
                continue
            inode, size, mtime, path = record.split(b" ", 3)
            listed.append(ListedFile(path.decode(errors="surrogateescape"), int(inode), int(size), float(mtime)))
        return sorted(listed, key=lambda file: file.path)

    def open(self, path: str, start: int = 0, end: int | None = None) -> IO[bytes]:
        handle = self.sftp.open(path, "rb")  # paramiko raises FileNotFoundError for a missing file
        handle.seek(start)
        if end is not None and end > start:
            # ask for the range in flight at once rather than one 32 KB request per round trip
            handle.prefetch(end)
        return handle

    def read_bytes(self, path: str) -> bytes:
        with self.open(path) as handle:
            return handle.read()

    def __enter__(self) -> SshHostFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
