"""The topology jar: the core package under resources/, the Flux YAML with the absolute Python
command, Flux's classes; the same inputs give the same bytes and name, another config another name."""

from __future__ import annotations

import zipfile

import yaml

from logstream.stack.config import StackConfig
from logstream.storm.topologies.security_stats import SecurityStats
from logstream.storm.topology_jar import build_jar, streamparse_run, thrift_topology


def test_jar_contents_and_content_hash_name(tmp_path):
    flux_core = next((StackConfig().jvm_lib / "storm-flux").glob("flux-core-*.jar"))
    first = build_jar(SecurityStats, name="stats", conf={"topology.workers": 1}, out_dir=tmp_path / "a",
                      flux_core_jar=flux_core)
    again = build_jar(SecurityStats, name="stats", conf={"topology.workers": 1}, out_dir=tmp_path / "b",
                      flux_core_jar=flux_core)
    other = build_jar(SecurityStats, name="stats", conf={"topology.workers": 2}, out_dir=tmp_path / "c",
                      flux_core_jar=flux_core)

    assert first.path.name == again.path.name == f"stats-{first.sha256[:16]}.jar"
    assert first.path.read_bytes() == again.path.read_bytes()
    assert other.sha256 != first.sha256
    with zipfile.ZipFile(first.path) as jar:
        names = set(jar.namelist())
        flux = yaml.safe_load(jar.read("topology.yaml"))
    assert {"resources/logstream/log_entry.py", "resources/logstream/storm/bolts/window_count.py",
            "org/apache/storm/flux/wrappers/bolts/FluxShellBolt.class"} <= names
    assert flux["config"] == {"topology.workers": 1}
    assert [bolt["constructorArgs"][0] for bolt in flux["bolts"]] == [
        [streamparse_run(), "logstream.storm.bolts.window_count.WindowCountBolt"]]
    assert flux["streams"][0]["grouping"] == {"type": "FIELDS", "args": ["topic", "partition"], "streamId": "default"}


def test_thrift_topology_runs_this_environments_python():
    thrift = thrift_topology(SecurityStats, command="/opt/venv/bin/streamparse_run")
    assert thrift.spouts["log_entries"].spout_object.shell.execution_command == "/opt/venv/bin/streamparse_run"
    assert thrift.bolts["window_count"].bolt_object.shell.execution_command == "/opt/venv/bin/streamparse_run"
    assert SecurityStats.thrift_topology.bolts["window_count"].bolt_object.shell.execution_command == "streamparse_run"
