"""Airflow itself: api-server, scheduler, dag-processor and triggerer on the stack's PostgreSQL,
loading the project's ``dags/`` and ``plugins/``, with one connection per service of the stack.

Users log in: the simple auth manager knows the users of ``STACK_USERS``, whose passwords are
generated at set-up into the git-ignored ``<stack dir>/credentials/airflow-users.json`` (the file
the auth manager itself reads).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logstream.stack.config import StackConfig
from logstream.stack.connections import connection_env
from logstream.stack.credentials import local_secret
from logstream.stack.postgres import role_and_password
from logstream.stack.process import ServiceError
from logstream.stack.service import Health, Service

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# user -> simple auth manager role: the operator runs the pipeline and sees the live dashboard; the
# viewer reads DAGs and runs but not the result store (so not the dashboard either)
STACK_USERS = {"operator": "admin", "viewer": "viewer"}
OPERATOR = "operator"
# how long ``stack down`` lets the scheduler's running tasks finish before it kills them
DRAIN_SECONDS = 120.0


def users_file(config: StackConfig) -> Path:
    return config.home / "credentials" / "airflow-users.json"


def stack_passwords(config: StackConfig) -> dict[str, str]:
    """Every stack user's password, generating (once) those the file does not have yet."""
    path = users_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    passwords = json.loads(path.read_text()) if path.exists() else {}
    missing = [user for user in STACK_USERS if user not in passwords]
    if missing:
        passwords.update({user: secrets.token_urlsafe(12) for user in missing})
        path.write_text(json.dumps(passwords, indent=2) + "\n")
    path.chmod(0o600)
    return {user: passwords[user] for user in STACK_USERS}


def airflow_settings(*, home: Path, repo: Path, address: str, port: int, database_url: str, users: Path,
                     jwt_secret: str) -> dict[str, str]:
    """Airflow's own settings for a logstream deployment of Airflow: the project's DAGs and plugins,
    LocalExecutor, the simple auth manager with :data:`STACK_USERS`, the api-server at
    ``address:port``, the metadata database at ``database_url``."""
    api = f"http://{address}:{port}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(repo / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{user}:{role}" for user, role in STACK_USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(users),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__API__HOST": address,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "20",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": str(repo / "plugins"),
    }


def airflow_env(config: StackConfig) -> dict[str, str]:
    """The environment every Airflow process of the local stack (and the tests) runs with."""
    home = config.home / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    role, password = role_and_password(config, "airflow")
    env = airflow_settings(
        home=home, repo=config.repo, address=config.host, port=config.ports["airflow"],
        database_url=f"postgresql+psycopg2://{role}:{password}@{config.host}:{config.ports['postgres']}/airflow",
        users=users_file(config), jwt_secret=local_secret(config, "airflow-jwt"))
    env["LOGSTREAM_STACK_DIR"] = str(config.home)
    env.update(connection_env(config))
    stack_passwords(config)
    return env


class Airflow(Service):
    name = "airflow"
    port_names = ("airflow",)
    process_names = tuple(f"airflow-{component}" for component in COMPONENTS)
    start_timeout = 240.0

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port('airflow')}"

    def env(self) -> dict[str, str]:
        return {**os.environ, **airflow_env(self.config)}

    def airflow_bin(self) -> str:
        return str(self.config.venv_bin / "airflow")

    def launch(self) -> None:
        env = self.env()
        migrate = subprocess.run([self.airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
        if migrate.returncode != 0:
            raise ServiceError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")
        self._start_components(COMPONENTS, env)

    def launch_missing(self) -> None:
        self._start_components([component for component, process in zip(COMPONENTS, self.processes)
                                if not process.is_running()], self.env())

    def _start_components(self, components, env: dict[str, str]) -> None:
        """The api-server first and answering before the others: a task the scheduler starts reports to
        it (the execution API), and one started before it answers fails while still queued."""
        if "api-server" in components:
            self._start("api-server", env)
            self.processes[0].wait_until(self._api_server_answers, timeout=self.start_timeout,
                                         what="answering on its health endpoint")
        for component in components:
            if component != "api-server":
                self._start(component, env)

    def _api_server_answers(self) -> bool:
        try:
            self._health_report()
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return True

    def _health_report(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=3) as response:
            return json.load(response)

    def stop(self) -> None:
        """The scheduler first, and it lets its running tasks finish (up to ``DRAIN_SECONDS``) while
        the api-server still answers them: a task left running would go on against the services
        ``stack down`` stops after Airflow, and report them as failed."""
        self.processes[COMPONENTS.index("scheduler")].stop(timeout=DRAIN_SECONDS, drain=True)
        super().stop()

    def _start(self, component: str, env: dict[str, str]) -> None:
        process = self.processes[COMPONENTS.index(component)]
        process.start([self.airflow_bin(), component], env=env, cwd=self.config.home / "airflow")

    def restart_api_server(self) -> None:
        """Only the api-server (the UI, the REST API and the plugins' apps) stops and comes back."""
        with self.without("api-server"):
            pass

    @contextmanager
    def without(self, *components: str) -> Iterator[None]:
        """``components`` stopped for a while, then back and healthy. A test that registers its own
        version of a DAG runs without the dag-processor, which would write the file's version over it,
        and without the scheduler, which updates the runs of paused DAGs with the DAG's latest version."""
        for component in components:
            self.processes[COMPONENTS.index(component)].stop()
        try:
            yield
        finally:
            self._start_components(components, self.env())
            self.wait_healthy()

    def health(self) -> Health:
        try:
            report = self._health_report()
        except (OSError, urllib.error.URLError, ValueError) as err:
            return Health(False, f"api-server not answering at {self.url}: {err}")
        states = {part: (report.get(part) or {}).get("status") for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")}
        ok = all(state == "healthy" for state in states.values())
        return Health(ok, f"UI {self.url} " + " ".join(f"{part}={state}" for part, state in states.items()))
