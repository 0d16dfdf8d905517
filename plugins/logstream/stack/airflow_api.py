"""A small client of the local Airflow's REST API (v2), for the demo and the stack's own checks."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any

from logstream.stack.airflow import OPERATOR, stack_passwords
from logstream.stack.config import StackConfig


# the DAGs that keep the pipeline running once unpaused (stack up and the demo unpause them; the
# tests' stack keeps them paused and runs what it needs itself)
SCHEDULED_DAGS = ("services_health", "hadoop_consumer", "hive_reports", "storm_topologies", "flume_tiers_health",
                  "flume_line_gaps", "exactly_once_check", "reconcile", "result_store_retention")


class AirflowApiError(RuntimeError):
    pass


# what a wait takes for a busy API server, not for an answer: a connection refused or reset, or no
# answer within the request's timeout (the wait goes on until its own deadline)
UNANSWERED = (TimeoutError, ConnectionError, urllib.error.URLError)


def log_line(entry: dict | str) -> str:
    """A structured log entry as a line: its event, and the exception it carries if any."""
    if not isinstance(entry, dict):
        return str(entry)
    errors = [f"{error.get('exc_type')}: {error.get('exc_value')}" for error in entry.get("error_detail") or []
              if isinstance(error, dict)]
    return "; ".join([str(entry.get("event", "")), *errors])


def _refuse_future(dag_id: str, logical_date: datetime) -> None:
    """A run whose logical date is still to come would sit in ``running`` with no task started until
    then (Airflow's scheduler holds its tasks back): refused here, by name, instead."""
    now = datetime.now(timezone.utc)
    if logical_date > now:
        raise AirflowApiError(f"a run of {dag_id} at logical date {logical_date.isoformat()} would start no task "
                              f"for {(logical_date - now).total_seconds():.0f}s: Airflow runs no task of a run "
                              "before its logical date")


class AirflowApi:
    """Logged in as ``username`` (a token from ``POST /auth/token``, fetched on first use)."""

    def __init__(self, base_url: str, *, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token: str | None = None

    @classmethod
    def for_stack(cls, config: StackConfig, *, username: str = OPERATOR) -> AirflowApi:
        """The local stack's Airflow, as one of its generated users."""
        return cls(f"http://{config.host}:{config.ports['airflow']}", username=username,
                   password=stack_passwords(config)[username])

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if path != "/auth/token":
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(f"{self.base_url}{path}", method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            raise AirflowApiError(f"{method} {path}: HTTP {err.code} {err.read().decode(errors='replace')[:500]}") from None

    def token(self) -> str:
        if self._token is None:
            self._token = self._call("POST", "/auth/token", {"username": self.username, "password": self.password})["access_token"]
        return self._token

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has loaded ``dag_id`` and does not hold it stale (the API refuses
        to trigger a stale DAG)."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                if not self._call("GET", f"/api/v2/dags/{dag_id}").get("is_stale"):
                    return
                last = "stale"
            except (AirflowApiError, *UNANSWERED) as err:
                last = str(err) or type(err).__name__
            time.sleep(2)
        raise AirflowApiError(f"the dag-processor did not load {dag_id} within {timeout:.0f}s (last: {last})")

    def is_paused(self, dag_id: str) -> bool:
        return bool(self._call("GET", f"/api/v2/dags/{dag_id}")["is_paused"])

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def unpause_scheduled(self, report=print) -> None:
        """Unpause the DAGs that keep the pipeline running on their schedules (:data:`SCHEDULED_DAGS`)."""
        for dag_id in SCHEDULED_DAGS:
            self.wait_for_dag(dag_id)
            self.unpause(dag_id)
        report(f"unpaused {', '.join(SCHEDULED_DAGS)}")

    def trigger(self, dag_id: str, conf: dict | None = None, *, logical_date: datetime | None = None) -> str:
        """A manual run; with a ``logical_date``, its data interval is the one the DAG's timetable infers from it."""
        if logical_date is not None:
            _refuse_future(dag_id, logical_date)
        body = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf or {}}
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def run_again(self, dag_id: str, *, logical_date: datetime) -> str:
        """The run of ``logical_date``: triggered, or when the DAG has one (Airflow keeps one run per
        logical date), that run cleared so that it runs again."""
        _refuse_future(dag_id, logical_date)
        at = logical_date.isoformat()
        existing = self.runs(dag_id, logical_date_gte=at, logical_date_lte=at)
        if not existing:
            return self.trigger(dag_id, logical_date=logical_date)
        run_id = existing[0]["dag_run_id"]
        self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/clear",
                   {"dry_run": False})
        return run_id

    def runs(self, dag_id: str, **filters: str) -> list[dict]:
        """The newest 20 runs, or those the API's ``filters`` (run_type=..., logical_date_gte=...) select."""
        query = urllib.parse.urlencode(filters or {"order_by": "-run_after", "limit": "20"})
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]

    def backfills(self, dag_id: str) -> list[dict]:
        return self._call("GET", f"/api/v2/backfills?dag_id={urllib.parse.quote(dag_id)}&limit=100")["backfills"]

    def cancel_backfill(self, backfill_id: int) -> None:
        self._call("PUT", f"/api/v2/backfills/{backfill_id}/cancel")

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.run(dag_id, run_id)["state"]

    def task_instances(self, dag_id: str, run_id: str, **filters: str) -> list[dict]:
        """The task instances of a run (``~``: of every run), or those the API's ``filters`` (state=...) select."""
        run = urllib.parse.quote(run_id, safe="~")
        query = urllib.parse.urlencode({"limit": "100", **filters})
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances?{query}")["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, *, try_number: int = 1, map_index: int = -1) -> str:
        """The task's log, one event per line (Airflow's structured log: its ``event`` texts, and the exceptions they carry)."""
        run = urllib.parse.quote(run_id, safe="")
        query = urllib.parse.urlencode({"full_content": "true", "map_index": map_index})
        answer = self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/logs/{try_number}?{query}")
        content = answer.get("content", [])
        if isinstance(content, str):
            return content
        return "\n".join(log_line(entry) for entry in content)

    def failure_summary(self, dag_id: str, run_id: str, *, log_lines: int = 15) -> list[str]:
        """What an operator reads first when a run failed: each failed task and the end of its log."""
        lines = []
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] != "failed":
                continue
            lines.append(f"{dag_id} {run_id}: task {ti['task_id']} failed (try {ti['try_number']}); its log ends:")
            try:
                log = self.task_log(dag_id, run_id, ti["task_id"], try_number=ti["try_number"],
                                    map_index=ti.get("map_index", -1))
            except (AirflowApiError, *UNANSWERED) as err:
                log = f"(log not readable: {err})"
            lines.extend(f"    {line}" for line in log.splitlines()[-log_lines:])
        return lines

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        state = "no answer yet"
        while time.monotonic() < deadline:
            try:
                state = self.run_state(dag_id, run_id)
            except UNANSWERED as err:
                state = f"no answer ({str(err) or type(err).__name__})"
            if state in ("success", "failed"):
                return state
            time.sleep(3)
        try:
            tasks = ", ".join(f"{ti['task_id']} {ti['state'] or 'not scheduled'}" for ti in self.task_instances(dag_id, run_id))
        except (AirflowApiError, *UNANSWERED) as err:
            tasks = f"not readable: {err}"
        raise AirflowApiError(f"{dag_id} run {run_id} did not finish within {timeout:.0f}s (last: {state}; tasks: {tasks})")
