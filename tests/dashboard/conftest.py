from __future__ import annotations

import pytest
from dashboard_browser import start_browser


@pytest.fixture
def browser():
    driver = start_browser()
    yield driver
    driver.quit()
