"""The Flume hook's reach into the front-end hosts: with ``host_ssh_conn_id`` the hosts' files are read
through each host's SSH connection (a real sshd on loopback), the paths as the hosts see them; an
unreachable host is said by name; without it, they are read here."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from ssh_hosts import start_loopback_sshd, stop_loopback_sshd

from hooks.flume_metrics import FlumeMetricsHook
from logstream.flume.host_files import HostFilesError, LocalHostFiles, SshHostFiles
from logstream.flume.line_gaps import scan_host_files
from logstream.pipeline_config import load_pipeline_config


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = start_loopback_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_loopback_sshd(server)


def _flume_connection(monkeypatch, home: Path, **extra) -> FlumeMetricsHook:
    monkeypatch.setenv("AIRFLOW_CONN_FLUME_HOSTS_TEST", json.dumps({
        "conn_type": "generic", "host": "127.0.0.1", "port": 45000,
        "extra": {"home": str(home), "avro_base_port": 44000, "supervisor": "hosts", **extra}}))
    return FlumeMetricsHook(flume_conn_id="flume_hosts_test")


def test_the_hosts_files_are_read_over_each_hosts_ssh_connection_where_the_hosts_see_them(tmp_path, monkeypatch,
                                                                                         sshd):
    on_host = tmp_path / "as-the-hosts-see-it"
    (on_host / "hosts" / "web1").mkdir(parents=True)
    (on_host / "hosts" / "web1" / "app.log").write_bytes(b"one\ntwo\n")
    monkeypatch.setenv("AIRFLOW_CONN_SSH_WEB1", json.dumps(sshd.connection()))
    hook = _flume_connection(monkeypatch, tmp_path / "home", host_ssh_conn_id="ssh_{host}", host_home=str(on_host))
    tiers = hook.tiers(load_pipeline_config())

    log_dir = hook.on_host(tiers, tiers.home / "hosts" / "web1")
    assert log_dir == on_host / "hosts" / "web1"
    with hook.host_files() as files_of:
        files = files_of("web1")
        assert isinstance(files, SshHostFiles) and files_of("web1") is files  # one session per host
        [found] = scan_host_files("web1", log_dir, r".*\.log", files)
        assert (found.path, found.complete_end) == (log_dir / "app.log", 8)

        began = time.monotonic()
        with pytest.raises(HostFilesError, match="web2.*'ssh_web2'"):
            files_of("web2")  # no such connection
        assert time.monotonic() - began < 60
    assert files.client.get_transport() is None or not files.client.get_transport().is_active()


def test_an_unreachable_host_is_named_with_its_connection(tmp_path, monkeypatch, sshd):
    monkeypatch.setenv("AIRFLOW_CONN_SSH_WEB1", json.dumps({**sshd.connection(), "port": 1}))
    hook = _flume_connection(monkeypatch, tmp_path, host_ssh_conn_id="ssh_{host}")
    with hook.host_files() as files_of, pytest.raises(HostFilesError, match="web1.*'ssh_web1'"):
        files_of("web1")


def test_a_host_with_another_key_is_refused(tmp_path, monkeypatch, sshd):
    # another server that would let Airflow's key in, with a host key of its own
    (tmp_path / "other").mkdir()
    for suffix in ("", ".pub"):
        shutil.copy(f"{sshd.client_key}{suffix}", tmp_path / "other" / f"client_ed25519{suffix}")
    other = start_loopback_sshd(tmp_path / "other")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_SSH_WEB1", json.dumps({**sshd.connection(), "port": other.port}))
        hook = _flume_connection(monkeypatch, tmp_path, host_ssh_conn_id="ssh_{host}")
        with hook.host_files() as files_of, pytest.raises(HostFilesError, match="web1.*does not match"):
            files_of("web1")
        accepted = other.client()  # with its own host key known, the same login passes: only the key was refused
        assert accepted.get_transport().is_active()
        accepted.close()
    finally:
        stop_loopback_sshd(other)


def test_without_ssh_the_hosts_files_are_read_here(tmp_path, monkeypatch):
    hook = _flume_connection(monkeypatch, tmp_path)
    tiers = hook.tiers(load_pipeline_config())
    assert hook.on_host(tiers, tiers.home / "hosts" / "web1") == tiers.home / "hosts" / "web1"
    with hook.host_files() as files_of:
        assert isinstance(files_of("web1"), LocalHostFiles)
