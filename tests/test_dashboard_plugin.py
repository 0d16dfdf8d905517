"""Airflow finds the dashboard plugin in ``plugins/`` (``airflow plugins``, as the api-server would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_airflow_lists_the_app_and_the_nav_entry():
    listed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "airflow"), "plugins", "-o", "json"],
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-3000:]
    plugins = {plugin["name"]: plugin for plugin in json.loads(listed.stdout)}
    dashboard = plugins["logstream_dashboard"]
    assert dashboard["fastapi_apps"] == [{"app": "fastapi.applications.FastAPI", "url_prefix": "/live", "name": "Live statistics"}]
    assert dashboard["external_views"] == [
        {"name": "Live statistics", "href": "/live/", "url_route": "live", "destination": "nav", "category": "browse"}]
