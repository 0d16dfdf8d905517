"""One real local stack for the whole test session (what is not running is started, and stopped
after), and the environment that points Airflow and its hooks at it."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from logstream.stack.airflow import airflow_env  # noqa: E402
from logstream.stack.config import StackConfig  # noqa: E402
from logstream.stack.local_stack import LocalStack  # noqa: E402
from machine_load import MachineWatch  # noqa: E402
from single_box import SINGLE_BOX_STARTED  # noqa: E402

STACK_CONFIG = StackConfig()
# Before anything imports Airflow: its config, and AIRFLOW_CONN_* for every service of the stack.
os.environ.update(airflow_env(STACK_CONFIG))


MACHINE = pytest.StashKey[MachineWatch]()
SHORT_OF = pytest.StashKey[list]()  # (test, what the machine had while it ran) for each failure
STARTED_AT = pytest.StashKey[float]()


def pytest_configure(config):
    config.addinivalue_line("markers", "disruptive: restarts services of the shared stack; runs after every other test")
    config.stash[MACHINE] = MachineWatch(str(REPO)).start()
    config.stash[SHORT_OF] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.stash[STARTED_AT] = time.monotonic()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report says what the machine had to spare while it ran."""
    report = yield
    if report.failed and STARTED_AT in item.stash:
        machine = item.config.stash[MACHINE].since(item.stash[STARTED_AT])
        report.sections.append(("machine while it ran", machine))
        item.config.stash[SHORT_OF].append((f"{item.nodeid} ({report.when})", machine))
    return report


def pytest_terminal_summary(terminalreporter, config):
    watch = config.stash.get(MACHINE, None)
    if watch is None:
        return
    watch.stop()
    terminalreporter.write_sep("-", "the machine during the run")
    terminalreporter.write_line(f"whole run: {watch.since(0.0)}")
    for test, machine in config.stash[SHORT_OF]:
        terminalreporter.write_line(f"while {test} failed: {machine}")


CLUSTER_TESTS = REPO / "tests" / "logstream" / "cluster"


def pytest_collection_modifyitems(session, config, items):
    """Tests that restart the stack's services (the chaos run) go after the others, so that no other
    test meets a service coming back; the multi-host cluster's tests go last of all, since the
    single-box stack yields the machine to the cluster before they start (``yield_to_cluster``)."""
    items.sort(key=lambda item: (CLUSTER_TESTS in Path(item.path).parents,
                                 item.get_closest_marker("disruptive") is not None))


@pytest.fixture(scope="session")
def stack(request) -> LocalStack:
    local = LocalStack(STACK_CONFIG)
    # only what this session starts is stopped after it: a developer's stack (or another session's
    # services) stays as it was
    started = [service for service in local.services if not service.is_running()]
    request.config.stash[SINGLE_BOX_STARTED] = (local, started)
    keep = bool(os.environ.get("LOGSTREAM_KEEP_STACK"))
    try:
        local.up()
    except BaseException:
        if not keep:  # a stack that did not come up leaves none of its parts running
            local.stop(started)
        raise
    yield local
    if not keep:
        local.stop(started)


@pytest.fixture
def hdfs_client(stack):
    """The stack's HDFS through the provider's WebHDFSHook (an ``hdfs`` library client)."""
    from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

    return WebHDFSHook().get_conn()


@pytest.fixture
def zookeeper_hosts(stack) -> str:
    return f"{stack.config.host}:{stack.config.ports['zookeeper']}"


@pytest.fixture
def sessions(zookeeper_hosts):
    """Starts ZooKeeper sessions (KazooClients) on the stack's ensemble; all are closed after the test."""
    from kazoo.client import KazooClient

    started: list[KazooClient] = []

    def session() -> KazooClient:
        client = KazooClient(hosts=zookeeper_hosts, timeout=10)
        client.start(timeout=30)
        started.append(client)
        return client

    yield session
    for client in started:
        client.stop()
        client.close()


@pytest.fixture
def unique_name(request) -> str:
    """A name of its own for each test (topic, HDFS folder, table), so tests never share data."""
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"t_{base}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def results(stack, unique_name):
    """A topic of the test's own in the stack's result store, written as the topology would (rows
    removed afterwards: the result store outlives the session). For the dashboard's tests."""
    from online_results import OnlineResults

    online = OnlineResults(stack.service("postgres").dsn("logstream"), unique_name)
    online.create_tables()
    yield online
    online.delete()


@pytest.fixture
def scratch_dsn(stack, unique_name):
    """A PostgreSQL database of the test's own on the stack's server (dropped afterwards), for what
    must not touch the shared result store: its retention, its schema's first run."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    superuser = stack.service("postgres").dsn()
    admin = psycopg2.connect(superuser)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{unique_name}"')
    yield urlunsplit(urlsplit(superuser)._replace(path=f"/{unique_name}"))
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{unique_name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def recovery(capsys):
    """Prints a recovery time to the test command's output (not only on failure)."""
    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n[recovery] {line}", flush=True)
    return say
