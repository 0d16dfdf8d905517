"""Generated credentials of the local stack, kept out of the repository.

Each local account gets a random secret the first time the stack needs it, in
``<stack dir>/credentials/<name>`` (mode 0600; the stack dir is git-ignored). The services are
configured with these secrets and the ``AIRFLOW_CONN_*`` connections carry them, so nothing in the
repository is a password and no local service is an open door: loopback alone is not a boundary on a
shared machine.
"""

from __future__ import annotations

import os
import secrets

from logstream.stack.config import StackConfig

# The local accounts: the PostgreSQL superuser (only the stack itself uses it), the roles owning
# the Airflow and result databases, the result store's read-only role (the live dashboard's), and
# the user of the Hive (Spark Thrift) server.
POSTGRES_SUPERUSER = "postgres-superuser"
POSTGRES_AIRFLOW = "postgres-airflow"
POSTGRES_RESULTS = "postgres-logstream"
POSTGRES_RESULTS_READER = "postgres-logstream-reader"
HIVE_USER = "hive-logstream"


def local_secret(config: StackConfig, name: str) -> str:
    """The secret called ``name`` of this stack, generated on first use."""
    folder = config.home / "credentials"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / name
    if not path.exists():
        # written aside, then linked into place: two processes asking at once (stack up, a test
        # session) agree on one secret and never read a half-written file
        draft = folder / f".{name}.{os.getpid()}"
        draft.write_text(secrets.token_urlsafe(24))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
