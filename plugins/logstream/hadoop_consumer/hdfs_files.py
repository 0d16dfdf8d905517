"""The few HDFS file operations the HadoopConsumer needs, made safe to repeat after a crash.

``client`` is an ``hdfs`` library client (``hdfs.InsecureClient``; Airflow's WebHDFSHook returns one).
"""

from __future__ import annotations

import posixpath

from hdfs.util import HdfsError


# a reader that finds the state file replaced under it lists its folder again, this many times at most
REREAD_ATTEMPTS = 20


def exists(client, path: str) -> bool:
    return client.status(path, strict=False) is not None


def read_bytes(client, path: str) -> bytes:
    with client.read(path) as reader:
        return reader.read()


def write_bytes(client, path: str, data: bytes) -> None:
    client.write(path, data=data, overwrite=True)


def move_into_place(client, source: str, target: str) -> None:
    """Rename ``source`` to ``target``, replacing a ``target`` left by an earlier attempt.

    HDFS's rename does not overwrite; names are deterministic (they carry the offsets), so an
    existing ``target`` holds the same records and may be replaced.
    """
    client.makedirs(posixpath.dirname(target))
    if exists(client, target):
        client.delete(target)
    client.rename(source, target)


def replace_file(client, path: str, data: bytes) -> None:
    """Replace the small state file ``path`` by write-new, delete-old, rename (see :func:`read_replaced`).

    A crash between the delete and the rename leaves ``path.new`` as the only copy: that rename is
    finished first, so a crash while writing this time's ``.new`` never touches the only copy.
    """
    new = f"{path}.new"
    if not exists(client, path):
        left = client.status(new, strict=False)
        if left is not None and left["length"] > 0:  # an empty one is a first write that crashed open
            client.rename(new, path)
    write_bytes(client, new, data)
    move_into_place(client, new, path)


def read_replaced(client, path: str) -> tuple[str, bytes] | None:
    """The state file written by :func:`replace_file` (which of ``path``, ``path.new`` and its bytes), or None.

    Safe beside a :func:`replace_file` running at the same time (a lag check reading offsets while
    the consumer commits, a lease reading the fence its successor writes): one listing of the folder
    tells which names exist at one instant, so the file is never missed between two lookups; and a
    name that fails to read (gone by the writer's delete or rename, maybe back already) sends the
    reader back to a new listing. A ``path.new`` listed empty with no ``path`` beside it is the very
    first write, still open: no state yet.

    One writer at a time is assumed (the consumer's lease, the fence's holder): ``path`` missing means
    the writer is between its delete and its rename, so ``path.new`` is written in full.
    ``path.new`` is the state only while ``path`` is missing: by the time it is read the writer may
    have renamed it and written the next ``path.new``, a state not committed yet (``path`` still holds
    the one before it, which the next read would find: the values would go back). So its bytes count
    only if the same file (HDFS's ``fileId``) is still listed as ``path.new`` after the read.
    """
    folder, name = posixpath.split(path)
    new = f"{name}.new"
    failed: Exception | None = None
    for _ in range(REREAD_ATTEMPTS):
        try:
            listed = _listing(client, folder)
        except HdfsError as err:
            if not exists(client, folder):
                return None
            failed = err  # made between the listing and the look: list again
            continue
        found = next((candidate for candidate in (name, new) if candidate in listed), None)
        if found is None:
            return None
        if found == new and listed[new]["length"] == 0:
            return None  # the very first write, still open (a written state file is never empty)
        try:
            data = read_bytes(client, f"{folder}/{found}")
            if found == name:
                return f"{folder}/{found}", data
            if data and _file_id(_listing(client, folder).get(new), path) == _file_id(listed[new], path):
                return f"{folder}/{found}", data
            # the .new read may be the next write's file (open, or written before its commit): list again
            failed = HdfsError(f"{folder}/{new} was replaced while it was read")
        except HdfsError as err:  # gone, or gone and back with the next bytes: list again
            failed = err
    raise HdfsError(f"{path} could not be read in {REREAD_ATTEMPTS} attempts (replaced under each): {failed}")


def _listing(client, folder: str) -> dict[str, dict]:
    return dict(client.list(folder, status=True))


def _file_id(status: dict | None, path: str) -> int | None:
    if status is None:
        return None
    if "fileId" not in status:  # without it a replaced .new cannot be told from the one listed
        raise HdfsError(f"the listing of {path}'s folder gives no fileId: {path}.new cannot be read safely")
    return status["fileId"]


def publish_file(client, source: str, target: str) -> None:
    """Rename the staged ``source`` to ``target``, whose folder exists; safe to repeat after a crash.

    One call in the common case. If the rename fails: a source already gone was moved by an earlier
    attempt (left alone); a target already there is replaced, as in :func:`move_into_place`.
    """
    try:
        client.rename(source, target)
    except HdfsError:
        if exists(client, source):
            move_into_place(client, source, target)
        elif not exists(client, target):
            raise


def delete_tree(client, path: str) -> None:
    try:
        client.delete(path, recursive=True)
    except HdfsError as err:
        if exists(client, path):
            raise err
