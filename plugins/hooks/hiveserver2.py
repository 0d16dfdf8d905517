"""HiveServer2 calls that end, and statements that stop when their task does.

The Hive provider's ``HiveServer2Hook`` runs each statement synchronously over a socket without a
timeout: a stuck Spark job or a silent server holds the task until its ``execution_timeout``, and a
killed task leaves its statement running on the server (a report's ``INSERT OVERWRITE`` goes on
writing after the task is gone). This hook:

- opens the Thrift socket with a timeout (connection extra ``socket_timeout_seconds``, default 120);
- runs every statement asynchronously and polls it, cancelling it on the server when it runs longer
  than ``statement_timeout_seconds`` (default 1200) or when the caller is interrupted in any way
  (Airflow's ``execution_timeout``, an exception, Ctrl-C): :class:`HiveStatementTimeout` says so;
- :meth:`cancel_running` cancels the statements this hook has running, from another connection
  (operators call it from ``on_kill``, which Airflow runs in the task's SIGTERM handler, while the
  hook's own connection may be in the middle of a call);
- ``guard`` is called before each statement is sent, ``on_submit`` with each sent statement's
  server handle (serialized: :meth:`end_statement` ends it from any process, e.g. the next holder
  of a report lock whose previous holder was paused with a statement running).

Kerberos connections keep the provider's connection (no socket timeout); the rest applies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing
from functools import cached_property
from typing import Any

from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook

DEFAULT_STATEMENT_TIMEOUT_SECONDS = 1200
DEFAULT_SOCKET_TIMEOUT_SECONDS = 120
# the server's answer to a status poll is quick; between polls the statement runs
POLL_INTERVAL_SECONDS = (0.01, 1.0)


class HiveStatementTimeout(TimeoutError):
    """A statement ran longer than the connection allows; it was cancelled on the server."""


class HiveStatementCancelled(RuntimeError):
    """The server reports the statement cancelled (by :meth:`BoundedHiveServer2Hook.cancel_running`, or an operator)."""


class BoundedHiveServer2Hook(HiveServer2Hook):
    """``HiveServer2Hook`` with a socket timeout, a statement timeout and cancellation (module docstring).

    Connection extras: ``statement_timeout_seconds``, ``socket_timeout_seconds``, and the provider's.
    """

    hook_name = "HiveServer2 (bounded)"

    def __init__(self, *args: Any, statement_timeout: float | None = None,
                 guard: Callable[[], None] | None = None, on_submit: Callable[[bytes], None] | None = None,
                 **kwargs: Any) -> None:
        """:param guard: called before each statement is sent; what it raises stops the statement
            (a report writer checks that it still holds its lock).
        :param on_submit: called with each statement's serialized server handle once sent; what it
            raises cancels the statement (a report writer records it under its lock)."""
        super().__init__(*args, **kwargs)
        self._statement_timeout = statement_timeout
        self.guard = guard
        self.on_submit = on_submit
        self._running: dict[int, Any] = {}  # id(cursor) -> its operation handle
        self._running_lock = threading.RLock()  # on_kill may run in a signal handler of the thread holding it

    @cached_property
    def statement_timeout(self) -> float:
        if self._statement_timeout is not None:
            return self._statement_timeout
        extra = self.get_connection(self.get_conn_id()).extra_dejson
        return float(extra.get("statement_timeout_seconds", DEFAULT_STATEMENT_TIMEOUT_SECONDS))

    def _connect(self, schema: str | None) -> Any:
        db = self.get_connection(self.get_conn_id())
        auth = db.extra_dejson.get("auth_mechanism", "NONE")
        if auth not in ("NONE", "NOSASL", "CUSTOM", "LDAP"):
            return super().get_conn(schema)  # Kerberos: the provider's connection, without a socket timeout
        import thrift_sasl
        from pyhive import hive
        from thrift.transport import TSocket, TTransport

        socket = TSocket.TSocket(db.host, db.port or 10000)
        socket.setTimeout(1000 * float(db.extra_dejson.get("socket_timeout_seconds", DEFAULT_SOCKET_TIMEOUT_SECONDS)))
        username = db.login or "airflow"
        if auth == "NOSASL":
            transport = TTransport.TBufferedTransport(socket)
        else:
            # as pyhive does for these modes: SASL PLAIN; the password matters only to CUSTOM and LDAP
            password = db.password or "x"
            transport = thrift_sasl.TSaslClientTransport(
                lambda: hive.get_installed_sasl(host=db.host, sasl_auth="PLAIN", username=username, password=password),
                "PLAIN", socket)
        return hive.connect(thrift_transport=transport, username=username, database=schema or db.schema or "default")

    def get_conn(self, schema: str | None = None) -> Any:
        """A pyhive connection whose cursors run every statement bounded (``run_bounded``): the
        provider's ``get_records``/``get_results`` and common-sql's ``run`` all execute through them."""
        conn = self._connect(schema)
        plain_cursor = conn.cursor

        def cursor(*args: Any, **kwargs: Any) -> Any:
            cur = plain_cursor(*args, **kwargs)
            plain_execute = cur.execute
            cur.execute = lambda operation, parameters=None, **_: self.run_bounded(cur, plain_execute, operation, parameters)
            return cur

        conn.cursor = cursor
        return conn

    def run_bounded(self, cur: Any, execute: Any, sql_statement: str, parameters: Any = None) -> None:
        """Start one statement on ``cur`` (pyhive's ``execute``) and wait for it, within the statement
        timeout; cancel it on the server if the wait ends any other way than by its end."""
        from TCLIService.ttypes import TOperationState

        if self.guard is not None:
            self.guard()
        execute(sql_statement, parameters or None, async_=True)
        handle = cur._operationHandle  # pyhive keeps the server's handle here; cancel_running needs it
        with self._running_lock:
            self._running[id(cur)] = handle
        deadline = time.monotonic() + self.statement_timeout
        pause = POLL_INTERVAL_SECONDS[0]
        try:
            if self.on_submit is not None:
                from thrift.TSerialization import serialize

                self.on_submit(serialize(handle))
            while True:
                status = cur.poll(get_progress_update=False)
                state = status.operationState
                if state == TOperationState.FINISHED_STATE:
                    return
                if state in (TOperationState.ERROR_STATE, TOperationState.UKNOWN_STATE):
                    from pyhive.exc import OperationalError

                    raise OperationalError(status.errorMessage or f"the statement ended in state {state}", status)
                if state in (TOperationState.CANCELED_STATE, TOperationState.CLOSED_STATE,
                             TOperationState.TIMEDOUT_STATE):
                    raise HiveStatementCancelled(
                        f"HiveServer2 ended the statement ({TOperationState._VALUES_TO_NAMES[state]}): {sql_statement[:200]}")
                if time.monotonic() >= deadline:
                    raise HiveStatementTimeout(f"the statement ran over {self.statement_timeout:g}s and was cancelled: "
                                               f"{sql_statement[:200]}")
                time.sleep(pause)
                pause = min(pause * 2, POLL_INTERVAL_SECONDS[1])
        except BaseException:
            # a timeout, a failed poll, Airflow's execution_timeout, a kill: the statement must not go on
            self._cancel([handle])
            raise
        finally:
            with self._running_lock:
                self._running.pop(id(cur), None)

    def cancel_running(self) -> int:
        """Cancel the statements this hook is running, from a connection of its own; returns how many."""
        with self._running_lock:
            handles = list(self._running.values())
        self._cancel(handles)
        return len(handles)

    def end_statement(self, handle: bytes, timeout: float = 120.0) -> str:
        """End a statement by its serialized server handle (``on_submit``'s), whoever sent it: cancel
        it on the server and wait until the server says it is no longer running. Returns how it
        ended; HiveStatementTimeout if it still runs after ``timeout`` seconds."""
        from TCLIService.ttypes import (TCancelOperationReq, TGetOperationStatusReq, TOperationHandle,
                                        TOperationState, TStatusCode)
        from thrift.TSerialization import deserialize

        operation = deserialize(TOperationHandle(), handle)
        running = (TOperationState.INITIALIZED_STATE, TOperationState.RUNNING_STATE, TOperationState.PENDING_STATE)
        ok = (TStatusCode.SUCCESS_STATUS, TStatusCode.SUCCESS_WITH_INFO_STATUS)
        deadline = time.monotonic() + timeout
        with closing(self._connect(None)) as conn:
            conn.client.CancelOperation(TCancelOperationReq(operationHandle=operation))
            while True:
                status = conn.client.GetOperationStatus(TGetOperationStatusReq(operationHandle=operation))
                if status.status.statusCode not in ok:  # closed and forgotten by the server: it ended long ago
                    return f"no longer known to the server ({status.status.errorMessage})"
                if status.operationState not in running:
                    return f"ended ({TOperationState._VALUES_TO_NAMES[status.operationState]})"
                if time.monotonic() >= deadline:
                    raise HiveStatementTimeout(f"a statement cancelled {timeout:g}s ago still runs on the server")
                time.sleep(0.2)

    def _cancel(self, handles: list) -> None:
        from TCLIService.ttypes import TCancelOperationReq

        if not handles:
            return
        try:
            with closing(self._connect(None)) as conn:
                for handle in handles:
                    response = conn.client.CancelOperation(TCancelOperationReq(operationHandle=handle))
                    self.log.info("cancelled a running HiveServer2 statement (status %s)", response.status.statusCode)
        except Exception as error:  # the server may be gone: nothing is running there then
            self.log.warning("could not cancel %d HiveServer2 statement(s): %s", len(handles), error)
