"""The live dashboard as an Airflow plugin: its app mounted at ``/live`` in the api-server, and a
"Live statistics" entry under Browse that shows the page inside the UI (``/plugin/live``)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from dashboard.app import create_app
from dashboard.auth import RESOURCE_NAME


class DashboardPlugin(AirflowPlugin):
    name = "logstream_dashboard"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/live", "name": RESOURCE_NAME}]
    external_views = [
        {"name": RESOURCE_NAME, "href": "/live/", "url_route": "live", "destination": "nav", "category": "browse"},
    ]
