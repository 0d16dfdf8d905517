"""The ZooKeeper hook: the ensemble from the stack's connection, a session that ends with the block."""

from __future__ import annotations

from kazoo.client import KazooState

from hooks.zookeeper import ZooKeeperHook


def test_the_hook_opens_a_session_on_the_connections_ensemble(stack, unique_name):
    hook = ZooKeeperHook()
    assert hook.hosts() == f"{stack.config.host}:{stack.config.ports['zookeeper']}"
    with hook.session() as client:
        assert client.state == KazooState.CONNECTED
        node = client.create(f"/tests/{unique_name}", ephemeral=True, makepath=True)
    with hook.session() as client:
        assert client.exists(node) is None  # ephemeral: gone with the first session
