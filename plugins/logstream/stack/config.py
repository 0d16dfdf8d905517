"""Where the local stack lives and which ports it uses.

Every port can be moved with an environment variable ``LOGSTREAM_<NAME>_PORT`` (for example
``LOGSTREAM_KAFKA_PORT=19092``); data and logs go under ``LOGSTREAM_STACK_DIR`` (default
``<repo>/.stack``), which survives ``stack down`` so that a restart keeps topics, files and tables.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

DEFAULT_PORTS = {
    "postgres": 5432,
    "zookeeper": 2181,
    "kafka": 9092,
    "kafka_controller": 9093,
    "hdfs_namenode": 8020,
    "hdfs_http": 9870,
    "hive": 10000,
    "hive_ui": 4040,
    "airflow": 8080,
    "smtp": 8025,
    "storm_nimbus": 6627,
    "storm_supervisor": 6628,
    # the first of STORM_SLOTS consecutive worker ports
    "storm_slots": 6700,
    # never bound here (no storm-webapp), but Storm's default 8080 would be Airflow's
    "storm_ui": 8081,
    "storm_logviewer": 8000,
    # Flume: L2 agent i listens for Avro on flume_avro + i; agent i (L2s, then L1s) serves metrics on
    # flume_metrics + i, and an L1 takes refilled lines (flume/line_refill.py) on its metrics port + 1000.
    # Not Flume's usual 41414: that is inside Linux's range of ephemeral client ports (32768-60999),
    # where any outgoing connection may hold the port an agent is about to bind.
    "flume_avro": 24414,
    "flume_metrics": 24500,
}
STORM_SLOTS = 4


def _port(name: str) -> int:
    value = os.environ.get(f"LOGSTREAM_{name.upper()}_PORT")
    if value is None:
        return DEFAULT_PORTS[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"LOGSTREAM_{name.upper()}_PORT must be a port number, got {value!r}") from None


@dataclass(frozen=True)
class StackConfig:
    repo: Path = REPO_ROOT
    home: Path = field(default_factory=lambda: Path(os.environ.get("LOGSTREAM_STACK_DIR", REPO_ROOT / ".stack")))
    ports: dict[str, int] = field(default_factory=lambda: {name: _port(name) for name in DEFAULT_PORTS})
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def jvm_lib(self) -> Path:
        return self.repo / ".jvm" / "lib"

    @property
    def include_dir(self) -> Path:
        return self.repo / "include"

    @property
    def python(self) -> str:
        return sys.executable

    @property
    def venv_bin(self) -> Path:
        return Path(sys.executable).parent

    def java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        candidate = Path(java_home, "bin", "java") if java_home else None
        if candidate and candidate.exists():
            return str(candidate)
        found = shutil.which("java")
        if not found:
            raise FileNotFoundError("java was not found: install a Java 17 JDK (apt-get install openjdk-17-jdk-headless)")
        return found

    def classpath(self, component: str) -> str:
        lib = self.jvm_lib / component
        if not lib.is_dir() or not any(lib.glob("*.jar")):
            raise FileNotFoundError(
                f"no jars in {lib}: resolve them with `mvn -f include/jvm/pom.xml dependency:copy-dependencies`"
            )
        return f"{lib}/*"

    @property
    def hdfs_uri(self) -> str:
        return f"hdfs://{self.host}:{self.ports['hdfs_namenode']}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.ports['kafka']}"
