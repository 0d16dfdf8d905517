"""WebHDFS with a bound on every request: the provider's hook builds its ``hdfs`` client without one."""

from __future__ import annotations

from typing import Any

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

# seconds; a namenode that accepts a connection and never answers must not hold a task forever
DEFAULT_TIMEOUT = 60.0


class BoundedWebHDFSHook(WebHDFSHook):
    """The provider's WebHDFS hook whose client gives up on any request after ``timeout`` seconds.

    The connection's extra ``timeout`` (seconds) overrides :data:`DEFAULT_TIMEOUT`; it bounds the
    connect and each read of a request (the ``hdfs`` library's ``timeout``, passed to ``requests``).
    """

    def _get_client(self, namenode: str, port: int, login: str, password: str | None, schema: str,
                    extra_dejson: dict) -> Any:
        client = super()._get_client(namenode, port, login, password, schema, extra_dejson)
        # the client's own setting (hdfs.Client(timeout=...)), which the provider does not pass
        client._timeout = float(extra_dejson.get("timeout", DEFAULT_TIMEOUT))
        return client
