"""The dashboard's tests write the result store's tables themselves, as the topology would."""

from __future__ import annotations

import pytest
from online_results import OnlineResults


@pytest.fixture
def results(stack, unique_name):
    """Rows of a topic of the test's own in the stack's result database, removed afterwards."""
    online = OnlineResults(stack.service("postgres").dsn("logstream"), unique_name)
    online.create_tables()
    yield online
    online.delete()
