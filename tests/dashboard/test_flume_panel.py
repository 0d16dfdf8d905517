"""The page's Flume panel on the stack's real agents: ``GET /live/api/flume`` lists every agent of
pipeline.yaml with its tier, up, and the counters its own ``/metrics`` gives (read right before and
right after, so the panel's lie between them); a later reading has rates; the page shows the rows."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime

from dashboard_browser import WAIT_SECONDS, log_in
from dashboard_session import DashboardSession
from online_stats import wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from hooks.flume_metrics import FlumeMetricsHook
from logstream.pipeline_config import load_pipeline_config


def raw_totals(tiers, agent: str) -> tuple[int, int]:
    """(events accepted by the agent's sources, events delivered by its sinks), from its JSON as served."""
    with urllib.request.urlopen(tiers.metrics_url(agent), timeout=10) as response:
        document = json.load(response)
    accepted = sum(int(v["EventAcceptedCount"]) for k, v in document.items() if k.startswith("SOURCE."))
    delivered = sum(int(v["EventDrainSuccessCount"]) for k, v in document.items() if k.startswith("SINK."))
    return accepted, delivered


def test_the_flume_panel_lists_every_agent_with_its_own_counters(stack):
    pipeline = load_pipeline_config()
    expected_tiers = {**{host.name: "l1" for host in pipeline.flume.hosts}, **{name: "l2" for name in pipeline.flume.l2_agents}}
    tiers = FlumeMetricsHook().tiers(pipeline)
    session = DashboardSession(stack.config)
    token = session.login("operator")

    before = {agent: raw_totals(tiers, agent) for agent in expected_tiers}
    status, body = session.get("/live/api/flume", token)
    after = {agent: raw_totals(tiers, agent) for agent in expected_tiers}
    assert status == 200, body
    panel = json.loads(body)
    assert panel["state"] == "on"
    assert {a["agent"]: a["tier"] for a in panel["agents"]} == expected_tiers
    for agent in panel["agents"]:
        assert agent["up"] and agent["error"] is None, agent
        name = agent["agent"]
        assert before[name][0] <= agent["events_in"] <= after[name][0], (agent, before[name], after[name])
        assert before[name][1] <= agent["events_out"] <= after[name][1], (agent, before[name], after[name])
        assert 0.0 <= agent["channel_fill_percent"] <= 100.0
        assert (agent["failover_events"] is None) == (agent["tier"] == "l2")

    # a later reading (the panel reads at most every 5 s) carries rates against the one before
    first_read = panel["read_at"]
    later = wait_for(lambda: (p := json.loads(session.get("/live/api/flume", token)[1]))["read_at"] != first_read and p,
                     30, "a new reading of the agents")
    assert datetime.fromisoformat(later["read_at"]) > datetime.fromisoformat(first_read)
    assert all(a["rate_in"] is not None and a["rate_in"] >= 0 and a["rate_out"] >= 0 for a in later["agents"]), later
    assert session.get("/live/api/flume", session.login("viewer"))[0] == 403


def test_the_page_shows_a_row_per_agent(stack, browser):
    pipeline = load_pipeline_config()
    names = sorted([host.name for host in pipeline.flume.hosts] + list(pipeline.flume.l2_agents))
    log_in(browser, stack, "operator")

    def rows(d):
        found = {tr.find_elements(By.TAG_NAME, "td")[0].text: [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                 for tr in d.find_elements(By.CSS_SELECTOR, "#flume-agents tbody tr")}
        return found if sorted(found) == names else False

    shown = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(rows)
    assert all(cells[2] == "up" and cells[7].endswith("%") for cells in shown.values()), shown
    assert browser.find_element(By.ID, "flume-summary").get_attribute("data-state") == "on"
