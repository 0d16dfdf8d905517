"""The front ends' sshd: Airflow's key in, any other key refused; the Flume folders shown at the
host-view path only through it (the same path is empty on the box)."""

from __future__ import annotations

import paramiko
import pytest

from logstream.cluster.ssh import SSH_PORT, ssh_key
from logstream.flume.host_files import LocalHostFiles, SshHostFiles


def test_only_airflows_key_logs_in(cluster, tmp_path):
    server = cluster.ssh_servers[0]
    stranger = ssh_key(tmp_path / "stranger", "not-airflow")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(server.host.address, port=SSH_PORT, username="root", key_filename=str(stranger),
                       allow_agent=False, look_for_keys=False, timeout=10)
    client.close()
    with pytest.raises(paramiko.AuthenticationException):  # no password is taken, whatever it is
        client.connect(server.host.address, port=SSH_PORT, username="root", password="root",
                       allow_agent=False, look_for_keys=False, timeout=10)
    client.close()


def test_each_front_end_shows_the_flume_folders_at_the_host_view_path_and_the_box_does_not(cluster):
    folder = cluster.config.home / "flume" / "state" / cluster.frontends[0].name
    on_hosts = cluster.host_view_path / "flume" / "state" / cluster.frontends[0].name
    here = LocalHostFiles().list_files(str(folder))
    assert here, "the premise: the front end's L1 keeps a position file"
    assert LocalHostFiles().list_files(str(on_hosts)) == []
    for server in cluster.ssh_servers:
        client = server.client()
        try:
            with SshHostFiles(client, name=server.host.name) as files:
                shown = files.list_files(str(on_hosts))
                assert [file.inode for file in shown] == [file.inode for file in here]  # the same files
                assert [file.path for file in shown] == [str(on_hosts / file.path.rsplit("/", 1)[1]) for file in here]
        finally:
            client.close()
