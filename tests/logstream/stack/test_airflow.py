"""The stack's Airflow asks for a login: generated users and passwords, tokens from ``POST /auth/token``;
the client refuses a run Airflow would hold back (a logical date still to come)."""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from logstream.stack.airflow import STACK_USERS, stack_passwords, users_file
from logstream.stack.airflow_api import AirflowApi, AirflowApiError
from logstream.stack.config import StackConfig


def http_status(url: str, *, method: str = "GET", body: dict | None = None, token: str | None = None) -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_passwords_are_generated_once_into_a_private_file(tmp_path):
    config = StackConfig(home=tmp_path)
    first = stack_passwords(config)
    assert set(first) == set(STACK_USERS) == {"operator", "viewer"}
    assert len(set(first.values())) == 2 and all(len(password) >= 16 for password in first.values())
    assert stack_passwords(config) == first
    assert json.loads(users_file(config).read_text()) == first
    assert stat.S_IMODE(users_file(config).stat().st_mode) == 0o600
    assert stat.S_IMODE(users_file(config).parent.stat().st_mode) == 0o700


def test_a_user_missing_from_the_file_gets_a_password_others_keep_theirs(tmp_path):
    config = StackConfig(home=tmp_path)
    users_file(config).parent.mkdir(parents=True)
    users_file(config).write_text(json.dumps({"operator": "kept-password-1234"}))
    passwords = stack_passwords(config)
    assert passwords["operator"] == "kept-password-1234"
    assert passwords["viewer"] and passwords["viewer"] != "kept-password-1234"


def test_every_stack_user_logs_in_with_the_generated_password_and_nobody_without_one(stack):
    base = stack.service("airflow").url
    passwords = json.loads(users_file(stack.config).read_text())
    for user in STACK_USERS:
        assert http_status(f"{base}/auth/token", method="POST", body={"username": user, "password": passwords[user]}) == 201
        assert http_status(f"{base}/auth/token", method="POST", body={"username": user, "password": passwords[user] + "x"}) == 401
    # the all-admins shortcut is off, and the REST API wants a token
    assert http_status(f"{base}/auth/token") == 403
    assert http_status(f"{base}/api/v2/dags") == 401


def test_the_api_client_logs_in_and_the_viewer_may_read_but_not_change(stack):
    operator = AirflowApi.for_stack(stack.config)
    operator.wait_for_dag("hadoop_consumer")
    viewer = AirflowApi.for_stack(stack.config, username="viewer")
    assert isinstance(viewer.runs("hadoop_consumer"), list)
    with pytest.raises(AirflowApiError, match="HTTP 403"):
        viewer.trigger("hadoop_consumer")
    wrong = AirflowApi(operator.base_url, username="operator", password="not-the-password")
    with pytest.raises(AirflowApiError, match="POST /auth/token: HTTP 401"):
        wrong.runs("hadoop_consumer")


def test_a_run_whose_logical_date_is_to_come_is_refused_before_airflow_is_asked():
    # Airflow would keep such a run "running" with no task started until its logical date; nothing
    # listens on this address, so the refusal is the client's own and names the reason
    api = AirflowApi("http://127.0.0.1:9", username="operator", password="unused")
    later = datetime.now(timezone.utc) + timedelta(minutes=17)
    for ask in (lambda: api.trigger("reconcile", logical_date=later), lambda: api.run_again("reconcile", logical_date=later)):
        with pytest.raises(AirflowApiError, match="would start no task for 10[0-9][0-9]s: Airflow runs no task of a run before its logical date"):
            ask()
    with pytest.raises(urllib.error.URLError):  # a past logical date goes to Airflow (here: nobody)
        api.trigger("reconcile", logical_date=datetime.now(timezone.utc) - timedelta(minutes=1))
