"""The page in a real browser (Debian's chromium and chromedriver, headless) inside the real Airflow
UI of the stack: logged out it is refused with no data, a viewer is refused, an operator logged in
through Airflow's login page sees the database's numbers change as flushes commit, also after the
api-server restarts; the charts (uPlot) hold and draw the test's own counts, and a click on a host or
a Configuration ID shows its minutes and share. The run saves a screenshot under the stack folder and prints its path."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import psycopg2
from online_results import PANE, Entry, OnlineResults, minute, utc_now
from produced_and_landed import create_topic, produce_records
from dashboard_browser import WAIT_SECONDS, base_url, log_in, save_screenshot
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

def shown(driver, topic: str) -> dict | None:
    """What the page shows for ``topic``, read from the DOM (None while it has no section for it)."""
    sections = driver.find_elements(By.CSS_SELECTOR, f"section[data-topic='{topic}']")
    if not sections:
        return None
    section = sections[0]

    def rows(selector: str) -> list[list[str]]:
        return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in section.find_elements(By.CSS_SELECTOR, f"{selector} tbody tr")]

    try:
        return {
            "pushed_at": driver.find_element(By.ID, "pushed-at").get_attribute("data-at"),
            "records_per_second": section.find_element(By.CSS_SELECTOR, ".records-per-second").text,
            "late": section.find_element(By.CSS_SELECTOR, ".late").text,
            "expired": section.find_element(By.CSS_SELECTOR, ".expired").text,
            "top_hosts": rows(".top-hosts"),
            "malformed": rows(".malformed"),
            "configs": [row[:2] for row in rows(".configs")],
        }
    except StaleElementReferenceException:  # a push replaced the section while it was read
        return None


def expected(results: OnlineResults, pushed_at: str) -> dict:
    now = datetime.fromisoformat(pushed_at)
    return {
        "pushed_at": pushed_at,
        "records_per_second": f"{results.records_per_second(now):.2f}",
        "late": str(results.late()["late"]),
        "expired": str(results.late()["expired"]),
        "top_hosts": [[h["host"], str(h["records"])] for h in results.top_hosts()],
        "malformed": [[m["reason"], str(m["records"])] for m in results.malformed_last_hour(now)],
        "configs": [[str(c["config_id"]), str(c["records"])] for c in results.configs_last_hour()],
    }


def wait_until_page_equals_database(driver, results: OnlineResults) -> dict:
    def matches(d):
        page = shown(d, results.topic)
        return page if page and page["pushed_at"] and page == expected(results, page["pushed_at"]) else False

    try:
        return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(matches)
    except Exception:
        page = shown(driver, results.topic)
        raise AssertionError(f"the page shows {page}, the database holds "
                             f"{expected(results, page['pushed_at']) if page else None}") from None


def flush(results: OnlineResults, pane: datetime, hosts: int, *, late: bool = False) -> None:
    batch = [Entry(host=f"198.51.100.{1 + (i * 7) % hosts}", config_id=1019491 + 17 * (i % 6), pane_start=pane, late=late and i % 4 == 0)
             for i in range(40 + hosts)]
    results.commit(batch, expired={pane - 2 * PANE: 3},
                   malformed={(minute(utc_now()), "field_count"): hosts % 5 + 1, (minute(utc_now()), "bad_ip"): 2})


def test_logged_out_the_page_and_its_data_are_refused(stack, browser, results):
    flush(results, minute(utc_now()), 9)
    for path in ("/live/", "/live/api/snapshot", "/live/static/dashboard.js"):
        browser.get(f"{base_url(stack)}{path}")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert json.loads(body) == {"detail": "Not authenticated"}
    # the UI's own entry sends a logged-out browser to the login page, not to the numbers
    browser.get(f"{base_url(stack)}/plugin/live")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "/auth/login" in d.current_url)
    assert results.topic not in browser.page_source


def test_a_viewer_is_refused_inside_the_ui(stack, browser, results):
    flush(results, minute(utc_now()), 9)
    log_in(browser, stack, "viewer")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "may not see" in d.find_element(By.TAG_NAME, "body").text)
    assert json.loads(browser.find_element(By.TAG_NAME, "body").text) == {
        "detail": "user 'viewer' may not see the Live statistics"}
    assert results.topic not in browser.page_source


def test_the_operator_sees_the_databases_numbers_change_live(stack, browser, results):
    pane = minute(utc_now())
    flush(results, pane - PANE, 11, late=True)
    log_in(browser, stack, "operator")
    first = wait_until_page_equals_database(browser, results)
    assert first["top_hosts"] and first["configs"] and first["malformed"]

    flush(results, pane, 17)
    second = wait_until_page_equals_database(browser, results)
    assert second["top_hosts"] != first["top_hosts"]

    section = browser.find_element(By.CSS_SELECTOR, f"section[data-topic='{results.topic}']")
    save_screenshot(browser, stack, section, "live-dashboard.png", "the live dashboard inside the Airflow UI")


def test_a_push_of_one_topic_leaves_the_other_topics_numbers_and_charts_as_they_were(stack, browser, results):
    """Pushes carry only the topics that changed: after flushes of one topic the page still shows the
    other's numbers (which the test wrote) in the same section, not changed in any way and its charts
    not redrawn, while the flushed topic's numbers follow the database; a topic gone from the store
    loses its section."""
    other = OnlineResults(results.dsn, f"{results.topic}_other")
    try:
        pane = minute(utc_now())
        flush(results, pane, 5)
        # flushed ten minutes ago with no bad records: nothing of it moves with the clock (its rate
        # over the last minute stays 0), so only a push of it could change its section
        other.commit([Entry(host=f"198.51.100.{i % 3}", config_id=77 + i % 2, pane_start=pane - PANE) for i in range(9)],
                     committed_at=utc_now() - timedelta(minutes=10))
        log_in(browser, stack, "operator")
        wait_until_page_equals_database(browser, results)
        before = wait_until_page_equals_database(browser, other)
        # from here on, count every change to the other topic's section and every redraw of its charts
        browser.execute_script("""
            const charts = window.liveCharts[arguments[0]];
            const section = document.querySelector(`section[data-topic="${arguments[0]}"]`);
            window.otherTouched = {mutations: 0, redraws: 0};
            section.dataset.mark = "kept";
            new MutationObserver((records) => { window.otherTouched.mutations += records.length; })
              .observe(section, {subtree: true, childList: true, characterData: true, attributes: true});
            for (const chart of Object.values(charts).filter((c) => c instanceof uPlot)) {
              const setData = chart.setData.bind(chart);
              chart.setData = (...args) => { window.otherTouched.redraws += 1; return setData(...args); };
            }""", other.topic)
        for hosts in (7, 12):
            flush(results, pane, hosts)
            wait_until_page_equals_database(browser, results)
        after = shown(browser, other.topic)
        assert {k: v for k, v in after.items() if k != "pushed_at"} == \
            {k: v for k, v in expected(other, before["pushed_at"]).items() if k != "pushed_at"}
        assert browser.execute_script("""
            const section = document.querySelector(`section[data-topic="${arguments[0]}"]`);
            return [section.dataset.mark, window.otherTouched];""", other.topic) == \
            ["kept", {"mutations": 0, "redraws": 0}]
    finally:
        other.delete()
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(lambda d: shown(d, other.topic) is None)
    assert shown(browser, results.topic) is not None


def test_the_operator_sees_the_open_incidents_each_linked_to_its_dag(stack, browser, unique_name):
    """An incident as the notifier records it (``notifiers/incident_alert.py``), written here by
    hand: the page lists it with its error's first line and a link that opens its DAG in the UI."""
    from airflow.models.variable import Variable

    from logstream.incidents import incident_variable

    incident = f"{unique_name}.check_it"
    Variable.set(incident_variable(incident), json.dumps({
        "incident": incident, "opened": utc_now().isoformat(timespec="seconds"), "run_id": "manual__test",
        "error": "the landed offsets have a gap at 42\nTraceback (most recent call last): ..."}))
    try:
        log_in(browser, stack, "operator")
        row = WebDriverWait(browser, WAIT_SECONDS).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"#open-incidents tr[data-incident='{incident}']"))[0]
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        link = row.find_element(By.TAG_NAME, "a")
        assert cells[0] == incident and cells[2] == "the landed offsets have a gap at 42"
        assert link.get_attribute("href").endswith(f"/dags/{unique_name}") and link.get_attribute("target") == "_top"
        assert "open)" in browser.find_element(By.ID, "incidents-summary").text
    finally:
        Variable.delete(incident_variable(incident))


def test_the_page_says_stale_since_the_last_flush_while_records_wait_and_stops_once_counted(stack, browser, results):
    """25 records in the topic's Kafka topic, a flush of 5 committed half an hour ago: the page says
    so with the flush's time and the 20 records waiting; once a flush takes them the banner goes."""
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    create_topic(kafka, results.topic, 1)
    produce_records(kafka, results.topic, 25)
    half_an_hour_ago = utc_now() - timedelta(minutes=30)
    pane = minute(utc_now())
    results.commit([Entry(host="198.51.100.9", config_id=7, pane_start=pane)] * 5, committed_at=half_an_hour_ago)
    log_in(browser, stack, "operator")

    def banner(d) -> str | None:
        """The banner's text, "" while the section shows none, None while unknown (no section yet, or
        a push replaced it while it was read)."""
        sections = d.find_elements(By.CSS_SELECTOR, f"section[data-topic='{results.topic}'] .stale")
        try:
            return (sections[0].text if sections[0].is_displayed() else "") if sections else None
        except StaleElementReferenceException:
            return None

    shown = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2).until(banner)
    assert shown == (f"Stale since {half_an_hour_ago.strftime('%H:%M')} UTC: 20 records wait in Kafka and no flush "
                     "came.")
    assert not browser.find_element(By.ID, "staleness-off").is_displayed()

    results.commit([Entry(host="198.51.100.9", config_id=7, pane_start=pane)] * 20, committed_at=half_an_hour_ago)
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2).until(
        lambda d: shown_topic_hosts(d, results.topic) == [["198.51.100.9", "25"]] and banner(d) == "")


def test_the_page_says_when_the_server_stops_bringing_news_and_stops_saying_it_once_news_come(stack, browser, results):
    """The listener's reads held up (a lock on a table it reads, as a stuck database would): the socket
    stays open, nothing comes, and after 30 s the page says since when; once the lock goes, it stops."""
    from logstream.results import schema

    flush(results, minute(utc_now()), 6)
    log_in(browser, stack, "operator")
    wait_until_page_equals_database(browser, results)
    silent = browser.find_element(By.ID, "silent")
    assert not silent.is_displayed()
    blocker = psycopg2.connect(results.dsn)
    try:
        with blocker.cursor() as cur:  # held, uncommitted, until the rollback below
            cur.execute(f"LOCK TABLE {schema.PANE_TOTALS} IN ACCESS EXCLUSIVE MODE")
        WebDriverWait(browser, 55, poll_frequency=0.5).until(lambda d: silent.is_displayed())
        assert re.fullmatch(r"No news from the server since \d\d:\d\d:\d\d UTC \((3\d|[4-5]\d) s\): "
                            r"the numbers below may be stale\.", silent.text), silent.text
        assert browser.find_element(By.ID, "connection").text == "live"
    finally:
        blocker.rollback()
        blocker.close()
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(lambda d: not silent.is_displayed())
    flush(results, minute(utc_now()), 8)
    wait_until_page_equals_database(browser, results)


def test_the_page_says_staleness_is_not_told_while_kafka_is_down_and_still_shows_new_counts(stack, browser, results):
    """The session's Kafka stopped under the api-server: the page says stale statistics cannot be told
    (rather than calling every topic fresh), the counts committed meanwhile still show; with Kafka
    back the sentence goes by itself."""
    flush(results, minute(utc_now()), 6)
    log_in(browser, stack, "operator")
    wait_until_page_equals_database(browser, results)
    told = browser.find_element(By.ID, "staleness-off")
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(lambda d: told.get_attribute("data-state") == "on")
    assert not told.is_displayed()
    kafka = stack.service("kafka")
    kafka.stop()
    try:
        WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(
            lambda d: told.get_attribute("data-state") == "failing")
        assert told.is_displayed()
        assert told.text == "\u00b7 Kafka's offsets not readable: stale statistics are not told"
        flush(results, minute(utc_now()), 9)
        wait_until_page_equals_database(browser, results)
        assert told.get_attribute("data-state") == "failing"
    finally:
        kafka.launch()
        kafka.wait_healthy()
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(
        lambda d: told.get_attribute("data-state") == "on" and not told.is_displayed())


def shown_topic_hosts(driver, topic: str) -> list[list[str]] | None:
    page = shown(driver, topic)
    return page["top_hosts"] if page else None


def test_the_page_comes_back_by_itself_after_the_api_server_restarts(stack, browser, results):
    flush(results, minute(utc_now()), 5)
    log_in(browser, stack, "operator")
    wait_until_page_equals_database(browser, results)
    stack.service("airflow").restart_api_server()
    flush(results, minute(utc_now()) + PANE, 13)
    wait_until_page_equals_database(browser, results)
    assert browser.find_element(By.ID, "connection").text == "live"


def chart_state(driver, topic: str) -> dict | None:
    """Each uPlot chart of ``topic``'s section: its series' labels, the data it draws, and how many of
    its canvas's pixels are painted (None until the charts exist)."""
    return driver.execute_script("""
        const charts = window.liveCharts && window.liveCharts[arguments[0]];
        if (!charts || !charts.records) return null;
        const state = {};
        for (const name of ["records", "window", "malformed", "drill"]) {
          const chart = charts[name];
          if (!chart) continue;
          const canvas = chart.ctx.canvas;
          const pixels = chart.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
          state[name] = {labels: chart.series.map((s) => s.label), data: chart.data, painted};
        }
        return state;""", topic)


def epoch_seconds(isos: list[str]) -> list[float]:
    return [datetime.fromisoformat(iso).timestamp() for iso in isos]


def expected_charts(results: OnlineResults, now: datetime) -> dict:
    history, malformed = results.history(), results.malformed_minutes(now)
    stacked = [c["records"] for c in history["configs"]] + [history["other_configs"]]
    cumulative = [[sum(column) for column in zip(*stacked[: i + 1])] for i in range(len(stacked))]
    return {
        "records": {"labels": ["minute (UTC)"] + [f"config {c['config_id']}" for c in history["configs"]]
                    + ["other configurations", "late", "expired"],
                    "data": [epoch_seconds(history["panes"])] + cumulative + [history["late"], history["expired"]]},
        "window": {"labels": ["minute (UTC)", "records in 5 minutes"],
                   "data": [epoch_seconds(history["panes"]), history["window_5m"]]},
        "malformed": {"labels": ["minute (UTC)"] + [r["reason"] for r in malformed["reasons"]],
                      "data": [epoch_seconds(malformed["minutes"])] + [r["records"] for r in malformed["reasons"]]},
    }


def test_the_charts_draw_the_tests_counts_and_a_click_shows_one_hosts_or_configurations_minutes(stack, browser, results):
    pane = minute(utc_now())
    for back, hosts in ((9, 3), (6, 7), (5, 4), (2, 11), (0, 6)):  # gaps between the panes: zeros on the charts
        batch = [Entry(host=f"198.51.100.{1 + (i * 5) % hosts}", config_id=4100 + (i * i) % 8, pane_start=pane - back * PANE,
                       late=i % 9 == 0) for i in range(30 + 4 * hosts)]
        results.commit(batch, expired={pane - (back + 1) * PANE: back + 1},
                       malformed={(minute(utc_now()) - back * PANE, "field_count"): hosts, (minute(utc_now()), "bad_ip"): 1})
    log_in(browser, stack, "operator")

    def drawn(d):
        charts = chart_state(d, results.topic)
        pushed_at = d.find_element(By.ID, "pushed-at").get_attribute("data-at")
        if not charts or not pushed_at:
            return False
        wanted = expected_charts(results, datetime.fromisoformat(pushed_at))
        return charts if all({k: charts[name][k] for k in ("labels", "data")} == wanted[name] for name in wanted) else False

    try:
        charts = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(drawn)
    except Exception:
        raise AssertionError(f"the charts hold {chart_state(browser, results.topic)}") from None
    # the stack's top is each minute's records, and every chart painted its canvas
    assert charts["records"]["data"][-3][-10:] == results.history()["records"][-10:]
    assert all(charts[name]["painted"] > 500 for name in ("records", "window", "malformed")), charts

    section = browser.find_element(By.CSS_SELECTOR, f"section[data-topic='{results.topic}']")
    assert not section.find_element(By.CSS_SELECTOR, ".no-panes").is_displayed()
    hour_total = sum(results.history()["records"])
    for row in section.find_elements(By.CSS_SELECTOR, ".configs tbody tr"):
        config, records, share = (td.text for td in row.find_elements(By.TAG_NAME, "td"))
        assert abs(float(share.rstrip("%")) - 100 * int(records) / hour_total) <= 0.051

    for selector, key, cast in ((".top-hosts tbody tr", "host", str), (".configs tbody tr", "config_id", int)):
        row = section.find_elements(By.CSS_SELECTOR, selector)[1]
        value = cast(row.find_element(By.TAG_NAME, "td").text)
        want = results.series(key, value)
        row.click()

        def drilled(d):
            panel = d.find_element(By.CSS_SELECTOR, f"section[data-topic='{results.topic}'] .drill")
            charts = chart_state(d, results.topic)
            if not panel.is_displayed() or not charts or "drill" not in charts or panel.get_attribute("data-value") != str(value):
                return False
            return (panel, charts["drill"]) if charts["drill"]["data"][1:] == [want["records"], want["late"]] else False

        panel, drill = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.3).until(drilled)
        title = f"{'Host' if key == 'host' else 'Configuration ID'} {value}"
        assert panel.find_element(By.CSS_SELECTOR, ".drill-title").text == title
        share = panel.find_element(By.CSS_SELECTOR, ".drill-share")
        assert share.get_attribute("data-records") == str(sum(want["records"]))
        assert float(share.get_attribute("data-share")) == want["share"]
        assert drill["data"][0] == epoch_seconds(want["panes"]) and drill["painted"] > 200

    save_screenshot(browser, stack, section, "live-dashboard-charts.png", "the live dashboard's charts")


def test_the_page_says_so_and_stops_when_its_login_expires(stack, browser, results):
    """A login that ends 20 s after the page opened (a token re-signed with that expiry, set as the
    UI's cookie): the page is live, then the server closes the feed at the expiry and the page says
    why and asks for a new login, without trying again."""
    import time

    from dashboard_session import DashboardSession, resigned

    flush(results, minute(utc_now()), 5)
    token = resigned(DashboardSession(stack.config).login("operator"), exp=int(time.time()) + 20)
    browser.get(f"{base_url(stack)}/auth/login")
    browser.add_cookie({"name": "_token", "value": token, "path": "/"})
    browser.get(f"{base_url(stack)}/live/")
    connection = browser.find_element(By.ID, "connection")
    WebDriverWait(browser, 15, poll_frequency=0.2).until(lambda d: connection.text == "live")
    refusal = browser.find_element(By.ID, "refusal")
    assert not refusal.is_displayed()
    WebDriverWait(browser, 40, poll_frequency=0.2).until(lambda d: refusal.is_displayed())
    assert refusal.text == ("The server closed the live feed: login expired: log in to Airflow again. "
                            "Log in to Airflow again, then reload this page.")
    assert connection.text == "refused" and connection.get_attribute("data-state") == "refused"


def test_a_topic_with_only_bad_records_says_it_has_no_panes_and_charts_its_bad_records(stack, browser, results):
    results.commit([], malformed={(minute(utc_now()), "not_utf8"): 4})
    log_in(browser, stack, "operator")

    def section(d):
        found = d.find_elements(By.CSS_SELECTOR, f"section[data-topic='{results.topic}']")
        charts = chart_state(d, results.topic)
        return found[0] if found and charts and charts.get("malformed", {}).get("data", [[]])[1:] else False

    shown = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.5).until(section)
    assert shown.find_element(By.CSS_SELECTOR, ".no-panes").text == (
        "No valid record counted for this topic yet: its records and window charts start with its first pane.")
    assert [f.is_displayed() for f in shown.find_elements(By.CSS_SELECTOR, ".pane-chart")] == [False, False]
    malformed = chart_state(browser, results.topic)["malformed"]
    assert malformed["labels"] == ["minute (UTC)", "not_utf8"] and sum(malformed["data"][1]) == 4
