"""What the stack's Spark Thrift server is running, read from Spark's own REST API (every job has
its statement as its description), never from the code under test."""

from __future__ import annotations

import requests


def spark_jobs(stack, marker: str) -> list[dict]:
    """The Spark jobs of the Thrift server whose statement contains ``marker``."""
    base = f"http://{stack.config.host}:{stack.config.ports['hive_ui']}/api/v1/applications"
    [application] = requests.get(base, timeout=10).json()
    jobs = requests.get(f"{base}/{application['id']}/jobs", timeout=10).json()
    return [job for job in jobs if marker in job.get("description", "")]


def running(stack, marker: str) -> list[dict]:
    return [job for job in spark_jobs(stack, marker) if job["status"] == "RUNNING"]
