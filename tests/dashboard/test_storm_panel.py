"""The page's Storm panel on the stack's real Nimbus: a topology of the test's own, deployed and fed,
is listed by ``GET /live/api/storm`` with the figures Nimbus has for it (read right before and right
after, so the panel's lie between them), its components' executors as the topology's settings give
them, and the page shows its row. Last, the topology is killed while records keep coming: the page
says its statistics are stale since its last flush, with the records waiting."""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path

import psycopg2

import pytest
import yaml
from dashboard_browser import WAIT_SECONDS, log_in
from dashboard_session import DashboardSession
from online_stats import wait_for
from produced_and_landed import create_topic, produce_records
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from logstream.stack.storm import worker_pids
from logstream.storm.deployment import deploy

SETTINGS = yaml.safe_load((Path(__file__).parents[2] / "include" / "storm" / "security_stats.yaml").read_text())


@pytest.fixture(scope="module")
def fed_topology(stack):
    import random

    name = f"t_storm_panel_{random.randrange(16**8):08x}"
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    create_topic(kafka, name, 1)
    nimbus = stack.service("storm").nimbus()
    deploy(nimbus=nimbus, name=name, topic=name, kafka_bootstrap=stack.config.kafka_bootstrap,
           results_dsn=stack.service("postgres").dsn("logstream"), jar_dir=stack.config.data_dir / "storm" / "jars")
    try:
        produce_records(kafka, name, 300)  # not log entries: bad records, counted and acked all the same
        wait_for(lambda: (h := nimbus.health(name)) and h.acked > 0, 120, "Nimbus reporting acked tuples")
        yield name, nimbus
    finally:
        if nimbus.topology_id(name) is not None:  # the last test kills it itself
            nimbus.kill(name, wait_secs=0)
        wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone")


def test_the_storm_panel_gives_nimbus_figures_of_every_topology(stack, fed_topology):
    name, nimbus = fed_topology
    session = DashboardSession(stack.config)
    token = session.login("operator")
    before = nimbus.health(name)
    status, body = session.get("/live/api/storm", token)
    after = nimbus.health(name)
    assert status == 200, body
    panel = json.loads(body)
    assert panel["state"] == "on" and panel["error"] is None
    [shown] = [t for t in panel["topologies"] if t["name"] == name]
    assert shown["status"] == "ACTIVE"
    assert shown["workers"] == SETTINGS["storm"]["topology.workers"]
    for figure in ("emitted", "acked"):
        assert getattr(before, figure) <= shown[figure] <= getattr(after, figure), (figure, before, shown, after)
    assert shown["acked"] > 0 and shown["failed"] == 0 and shown["complete_latency_ms"] > 0
    components = {c["id"]: c for c in shown["components"]}
    assert {k: components[k]["executors"] for k in SETTINGS["parallelism"]} == SETTINGS["parallelism"]
    assert not any(k.startswith("__") for k in components)  # Storm's own (acker, metrics) are not shown
    assert components["log_entries"]["capacity"] is None  # a spout
    assert 0 <= components["window_count"]["capacity"] <= 1.5
    # at least the executors of the components shown, plus Storm's own
    assert shown["executors"] > sum(SETTINGS["parallelism"].values())
    # a viewer is refused, as on every route
    assert session.get("/live/api/storm", session.login("viewer"))[0] == 403


def test_the_page_shows_the_topologys_row(stack, fed_topology, browser):
    name, nimbus = fed_topology
    log_in(browser, stack, "operator")

    def row(d):
        for tr in d.find_elements(By.CSS_SELECTOR, "#storm-topologies tbody tr"):
            cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            if cells and cells[0] == name:
                return cells
        return False

    cells = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(row)
    health = nimbus.health(name)
    assert cells[1] == "ACTIVE" and cells[3] == str(health.workers) and cells[4] == str(health.executors)
    assert int(cells[6].replace(",", "")) > 0  # acked
    summary = browser.find_element(By.ID, "storm-summary")
    assert summary.get_attribute("data-state") == "on" and "running, read" in summary.text


def test_the_page_says_stale_since_the_last_flush_once_the_topology_is_killed(stack, fed_topology, browser):
    """Killed (as ``storm kill`` does) after counting the topic's 300 records, the topology leaves the
    50 produced next waiting in Kafka: the page says stale since its last flush (read from the result
    store's flushes) with exactly those 50 waiting. Runs last: the module's topology is gone after it."""
    from logstream.results import schema

    name, nimbus = fed_topology
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    dsn = stack.service("postgres").dsn("logstream")

    def stored_next_offset() -> int | None:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT max(next_offset) FROM {schema.OFFSETS} WHERE topic = %s", (name,))
            return cur.fetchone()[0]

    wait_for(lambda: stored_next_offset() == 300, 120, "the topology to count the topic's 300 records")
    topology_id = nimbus.topology_id(name)
    nimbus.kill(name, wait_secs=0)
    # gone from Nimbus first; its worker runs (and reads) until its supervisor stops it
    wait_for(lambda: nimbus.topology_id(name) is None and not worker_pids(topology_id), 120,
             f"topology {name} and its workers gone")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT max(committed_at) FROM {schema.FLUSHES} WHERE topic = %s", (name,))
        last_flush = cur.fetchone()[0]
    produce_records(kafka, name, 50)
    log_in(browser, stack, "operator")

    def banner(d) -> str | None:
        found = d.find_elements(By.CSS_SELECTOR, f"section[data-topic='{name}'] .stale")
        try:
            return found[0].text if found and found[0].is_displayed() else None
        except StaleElementReferenceException:  # a push replaced the section while it was read
            return None

    shown = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(banner)
    assert shown == f"Stale since {last_flush.astimezone(timezone.utc).strftime('%H:%M')} UTC: 50 records wait in Kafka and no flush came."
    assert stored_next_offset() == 300
