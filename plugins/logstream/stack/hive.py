"""Hive as Spark's Thrift server (HiveServer2 protocol) from the pyspark package.

pyspark ships ``bin/spark-submit`` and the hive-thriftserver jars but not ``sbin/start-thriftserver.sh``;
that script only runs the ``HiveThriftServer2`` class through spark-submit, which is what this does.
The metastore is an embedded Derby database under the stack's data folder; the warehouse is on HDFS.
Logging in needs the generated password (``hive.server2.authentication=CUSTOM`` with
``include/stack/hive/LocalPasswordAuthenticator.java``, compiled here against pyspark's jars).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from logstream.stack.credentials import HIVE_USER, local_secret
from logstream.stack.process import ServiceError, port_is_open
from logstream.stack.service import Health, Service

USER = "logstream"
AUTHENTICATOR = "io.logstream.stack.LocalPasswordAuthenticator"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class Hive(Service):
    name = "hive"
    port_names = ("hive", "hive_ui")
    start_timeout = 360.0

    @property
    def warehouse(self) -> str:
        return f"{self.config.hdfs_uri}/user/hive/warehouse"

    def password(self) -> str:
        return local_secret(self.config, HIVE_USER)

    @property
    def authenticator_classes(self) -> Path:
        return self.config.run_dir / "hive" / "auth-classes"

    def command(self) -> list[str]:
        """The spark-submit command line of the Thrift server (docker-compose.yaml's spark-thrift runs the same)."""
        return thrift_server_argv(
            metastore_dir=self.data_dir / "metastore_db", derby_home=self.data_dir, warehouse=self.warehouse,
            hdfs_uri=self.config.hdfs_uri, bind_host=self.config.host, port=self.port("hive"),
            ui_port=self.port("hive_ui"), password_file=self.config.home / "credentials" / HIVE_USER,
            authenticator_classes=self.authenticator_classes,
            log_config=self.config.include_dir / "stack" / "log4j2-console.properties")

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.password()
        compile_authenticator(self.config, self.authenticator_classes)
        self.process.start(self.command(), env=thrift_server_environment(self.config.host), cwd=self.data_dir)

    def query(self, sql: str) -> list[tuple]:
        """A statement's rows, through HiveServer2 as the stack's Hive user."""
        return query(self.config.host, self.port("hive"), self.password(), sql)

    def health(self) -> Health:
        health = thrift_server_health(self.config.host, self.port("hive"), self.password())
        return Health(health.ok, f"{health.detail}, warehouse {self.warehouse}" if health.ok else health.detail)


def compile_authenticator(config, classes: Path) -> None:
    """Compile ``include/stack/hive/LocalPasswordAuthenticator.java`` into ``classes`` (again if changed)."""
    source = config.include_dir / "stack" / "hive" / "LocalPasswordAuthenticator.java"
    compiled = classes / "io" / "logstream" / "stack" / "LocalPasswordAuthenticator.class"
    if not compiled.exists() or compiled.stat().st_mtime < source.stat().st_mtime:
        javac = Path(config.java()).with_name("javac")
        build = subprocess.run(
            [str(javac), "-cp", f"{spark_home() / 'jars'}/*", "-d", str(classes), str(source)],
            capture_output=True, text=True,
        )
        if build.returncode != 0:
            raise ServiceError(f"cannot compile {source.name} (a JDK's javac is needed):\n{build.stderr[-2000:]}")


def thrift_server_argv(*, metastore_dir: Path, derby_home: Path, warehouse: str, hdfs_uri: str, bind_host: str,
                       port: int, ui_port: int, password_file: Path, authenticator_classes: Path,
                       log_config: Path) -> list[str]:
    """spark-submit of Spark's Thrift server: an embedded Derby metastore at ``metastore_dir``, the
    warehouse and default file system on HDFS, logins checked against ``password_file``."""
    home = spark_home()
    driver_options = (
        f"-Dderby.system.home={derby_home} "
        f"-Dlog4j2.configurationFile={log_config} "
        f"-Dlogstream.hive.user={USER} -Dlogstream.hive.password.file={password_file}"
    )
    return [
        str(home / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--name", "logstream-hive",
        "--driver-memory", "1g",
        "--driver-class-path", str(authenticator_classes),
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--conf", f"spark.driver.extraJavaOptions={driver_options}",
        "--conf", f"spark.sql.warehouse.dir={warehouse}",
        "--conf", f"spark.hadoop.fs.defaultFS={hdfs_uri}",
        "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={metastore_dir};create=true",
        "--conf", "spark.hadoop.hive.exec.dynamic.partition.mode=nonstrict",
        "--conf", "spark.sql.sources.partitionOverwriteMode=dynamic",
        "--conf", f"spark.ui.port={ui_port}",
        "--conf", "spark.sql.shuffle.partitions=4",
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", f"hive.server2.thrift.bind.host={bind_host}",
        "--hiveconf", "hive.server2.authentication=CUSTOM",
        # queries touch HDFS as the server's user (the pipeline's, root), not as the login user
        "--hiveconf", "hive.server2.enable.doAs=false",
        "--hiveconf", f"hive.server2.custom.authentication.class={AUTHENTICATOR}",
        "spark-internal",
    ]


def thrift_server_environment(local_ip: str) -> dict[str, str]:
    return dict(os.environ, SPARK_HOME=str(spark_home()), HADOOP_USER_NAME="root", SPARK_LOCAL_IP=local_ip)


def query(host: str, port: int, password: str, sql: str) -> list[tuple]:
    """A statement's rows, through HiveServer2 as logstream's Hive user."""
    from pyhive import hive

    conn = hive.connect(host=host, port=port, username=USER, password=password, auth="CUSTOM")
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        conn.close()


def thrift_server_health(host: str, port: int, password: str) -> Health:
    from thrift.transport.TTransport import TTransportException

    if not port_is_open(port, host):
        return Health(False, f"nothing listens on {host}:{port}")
    try:
        [(version,)] = query(host, port, password, "SELECT version()")
    except (TTransportException, OSError, EOFError) as err:
        return Health(False, f"HiveServer2 not answering on {host}:{port}: {err}")
    return Health(True, f"HiveServer2 (Spark {version.split()[0]}) on {host}:{port}")
