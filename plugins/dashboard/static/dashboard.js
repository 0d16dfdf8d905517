// The live page: one WebSocket, every message a full snapshot (see logstream/results/live_view.py).
// A refused handshake (close 1008) is final; any other close reconnects with a growing delay,
// so the page comes back by itself after the api-server restarts.
"use strict";

const REFUSED = 1008;
// the server pushes at least every 10 s (IDLE_REFRESH_SECONDS) while its listener reads: longer
// silence on an open socket means the counts shown are not being refreshed
const SILENT_AFTER_MS = 30000;
let retryDelay = 500;
let lastMessageAt = Date.now();  // when a snapshot of a new read last came (a reconnect re-sends the last one)
let lastGeneratedAt = null;

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${location.pathname.replace(/\/?$/, "/")}ws`;
}

// Each push's cost in the browser, as User Timing measures (a PerformanceObserver sees them, e.g.
// bench/dashboard_bench.py): "live render" from the message to the DOM and charts updated, "live frame"
// to the next frame after it (style, layout and paint included). Cleared at once: a page left open
// for days keeps no growing list.
function timeRender(received, bytes, topics, changed) {
  const detail = { bytes, topics, changed };
  performance.measure("live render", { start: received, end: performance.now(), detail });
  performance.clearMeasures("live render");
  requestAnimationFrame(() => setTimeout(() => {
    performance.measure("live frame", { start: received, end: performance.now(), detail });
    performance.clearMeasures("live frame");
  }, 0));
}

// A push carries every topic's name in order and only the topics changed since this socket's
// previous push (all of them in its first): the page keeps the topics it was sent by name.
const heldTopics = new Map();

function merged(push) {
  for (const topic of push.topics) heldTopics.set(topic.topic, topic);
  const order = new Set(push.topic_order);
  for (const name of heldTopics.keys()) if (!order.has(name)) heldTopics.delete(name);
  const { topic_order: names, topics: _, ...header } = push;
  return { ...header, topics: names.map((name) => heldTopics.get(name)) };
}

function setConnection(state, text) {
  const element = document.getElementById("connection");
  element.dataset.state = state;
  element.textContent = text;
}

function connect() {
  const socket = new WebSocket(socketUrl());
  socket.onopen = () => { retryDelay = 500; setConnection("live", "live"); };
  socket.onmessage = (event) => {
    const received = performance.now();
    const push = JSON.parse(event.data);
    if (push.generated_at !== lastGeneratedAt) {
      lastGeneratedAt = push.generated_at;
      lastMessageAt = Date.now();
    }
    const snapshot = merged(push);
    render(snapshot, new Set(push.topics.map((t) => t.topic)));
    timeRender(received, event.data.length, snapshot.topics.length, push.topics.length);
  };
  socket.onclose = (event) => {
    if (event.code === REFUSED) {
      setConnection("refused", "refused");
      const refusal = document.getElementById("refusal");
      refusal.textContent = `The server closed the live feed: ${event.reason || "not authorised"}. ` +
        "Log in to Airflow again, then reload this page.";
      refusal.hidden = false;
      return;
    }
    setConnection("down", `reconnecting in ${(retryDelay / 1000).toFixed(1)} s`);
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}

function fillRows(table, rows, cells, onClick) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    for (const value of cells(row)) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    if (onClick) {
      tr.classList.add("clickable");
      tr.addEventListener("click", () => onClick(row));
    }
    return tr;
  }));
}

function when(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "none";
}

// why stale statistics would not be told (the snapshot's "staleness"; "on" and "checking" say nothing)
const STALENESS_OFF = {
  failing: "\u00b7 Kafka's offsets not readable: stale statistics are not told",
  off: "\u00b7 no Kafka connection: stale statistics are not told",
};

function hourMinute(iso) {
  return new Date(iso).toISOString().slice(11, 16) + " UTC";
}

function percent(share) {
  return `${(100 * share).toFixed(1)}%`;
}

// The charts (uPlot, vendored): one set per topic, kept across pushes. window.liveCharts[topic]
// holds them ({records, window, malformed, drill}); a chart is made again only when its series change.
const PALETTE = ["#3b82f6", "#14b8a6", "#a855f7", "#f59e0b", "#ec4899", "#94a3b8"];
const LATE_COLOUR = "#ea580c", EXPIRED_COLOUR = "#b42318";
const CHART_SIZE = {width: 380, height: 200};
window.liveCharts = {};

function hourAndMinute(ts) {
  return new Date(ts * 1000).toISOString().slice(11, 16);
}

function seconds(isoList) {
  return isoList.map((iso) => Date.parse(iso) / 1000);
}

function lineSeries(label, stroke, extra = {}) {
  return {label, stroke, width: 1.5, ...extra};
}

function plot(charts, name, element, signature, series, data, extra = {}) {
  let chart = charts[name];
  if (chart && chart.logstreamSignature === signature) {
    chart.setData(data);
    return chart;
  }
  if (chart) chart.destroy();
  chart = new uPlot({
    ...CHART_SIZE,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),  // the legend's times in UTC too
    scales: {x: {time: true}},
    axes: [{values: (u, splits) => splits.map(hourAndMinute)}, {}],
    series: [{label: "minute (UTC)"}, ...series],
    ...extra,
  }, data, element);
  chart.logstreamSignature = signature;
  charts[name] = chart;
  return chart;
}

// Records per minute: each busiest Configuration ID stacked on the ones before it, then all others
// (the top of the stack is the minute's records), with late and expired records as lines of their own.
function drawRecords(charts, element, history) {
  const stacked = [...history.configs.map((c) => ({label: `config ${c.config_id}`, records: c.records})),
                   {label: "other configurations", records: history.other_configs}];
  const sums = history.records.map(() => 0);
  const cumulative = stacked.map((s) => s.records.map((v, i) => (sums[i] += v)));
  charts.stackedRaw = stacked.map((s) => s.records);
  const series = stacked.map((s, i) => lineSeries(s.label, PALETTE[i % PALETTE.length], {
    fill: `${PALETTE[i % PALETTE.length]}66`,
    value: (u, v, si, di) => (di == null || charts.stackedRaw[si - 1] == null ? "--" : charts.stackedRaw[si - 1][di]),
  }));
  series.push(lineSeries("late", LATE_COLOUR, {dash: [4, 3]}), lineSeries("expired", EXPIRED_COLOUR, {dash: [2, 2]}));
  const bands = stacked.slice(1).map((_, i) => ({series: [i + 2, i + 1]}));
  plot(charts, "records", element, series.map((s) => s.label).join("|"), series,
       [seconds(history.panes), ...cumulative, history.late, history.expired], {bands});
}

function drawWindow(charts, element, history) {
  plot(charts, "window", element, "window", [lineSeries("records in 5 minutes", "#1d4ed8", {width: 2})],
       [seconds(history.panes), history.window_5m]);
}

function drawMalformed(charts, element, malformed) {
  const series = malformed.reasons.map((r, i) => lineSeries(r.reason, PALETTE[(i + 3) % PALETTE.length]));
  plot(charts, "malformed", element, series.map((s) => s.label).join("|"), series,
       [seconds(malformed.minutes), ...malformed.reasons.map((r) => r.records)]);
}

// The drill-down: one host's or Configuration ID's records per minute and its share of the topic's.
async function drill(topic, section, key, value) {
  const charts = window.liveCharts[topic];
  charts.drilled = {key, value};
  const panel = section.querySelector(".drill");
  let series = null, failure = null;
  try {
    series = await getJson(`api/series?${new URLSearchParams({topic, [key]: value})}`);
  } catch (error) {
    failure = error;
  }
  if (!charts.drilled || charts.drilled.key !== key || charts.drilled.value !== value) return;  // another click since
  const title = `${key === "host" ? "Host" : "Configuration ID"} ${value}`;
  panel.hidden = false;
  panel.dataset.key = key;
  panel.dataset.value = value;
  panel.querySelector(".drill-title").textContent = title;
  if (failure) {
    panel.querySelector(".drill-share").textContent = `could not be read: ${failure.message}`;
    return;
  }
  const total = series.records.reduce((a, b) => a + b, 0);
  const share = panel.querySelector(".drill-share");
  share.textContent = `${total.toLocaleString("en-US")} records in the last hour, ${percent(series.share)} of the topic's`;
  share.dataset.records = total;
  share.dataset.share = series.share;
  plot(charts, "drill", panel.querySelector(".drill-chart"), "drill",
       [lineSeries(title, "#1d4ed8", {width: 2, fill: "#1d4ed833"}), lineSeries("late", LATE_COLOUR, {dash: [4, 3]})],
       [seconds(series.panes), series.records, series.late]);
}

function closeDrill(topic, section) {
  const charts = window.liveCharts[topic];
  charts.drilled = null;
  if (charts.drill) { charts.drill.destroy(); delete charts.drill; }
  section.querySelector(".drill").hidden = true;
}

// the topic's section, made (with no charts yet) the first time the topic is seen
function topicSection(topic) {
  const main = document.getElementById("topics");
  let section = main.querySelector(`section[data-topic="${CSS.escape(topic)}"]`);
  if (!section) {
    section = document.getElementById("topic-template").content.firstElementChild.cloneNode(true);
    section.dataset.topic = topic;
    section.querySelector(".topic-name").textContent = topic;
    section.querySelector(".drill-close").addEventListener("click", () => closeDrill(topic, section));
    window.liveCharts[topic] = {};
  }
  return section;
}

function fillSection(section, topic) {
  const stale = section.querySelector(".stale");
  if (topic.stale) {
    stale.textContent = `Stale since ${topic.stale.since ? hourMinute(topic.stale.since) : "ever (nothing counted yet)"}: ` +
      `${topic.stale.waiting.toLocaleString("en-US")} records wait in Kafka and no flush came.`;
    stale.dataset.since = topic.stale.since || "";
    stale.dataset.waiting = topic.stale.waiting;
  }
  stale.hidden = !topic.stale;
  section.querySelector(".records-per-second").textContent = topic.records_per_second.toFixed(2);
  section.querySelector(".last-update").textContent = when(topic.last_update);
  section.querySelector(".newest-pane").textContent = when(topic.newest_pane);
  section.querySelector(".late").textContent = topic.late.late;
  section.querySelector(".expired").textContent = topic.late.expired;
  const hourRecords = topic.history.records.reduce((a, b) => a + b, 0);
  fillRows(section.querySelector(".top-hosts"), topic.top_hosts, (h) => [h.host, h.records],
           (h) => drill(topic.topic, section, "host", h.host));
  fillRows(section.querySelector(".configs"), topic.configs_last_hour,
           (c) => [c.config_id, c.records, hourRecords ? percent(c.records / hourRecords) : "--"],
           (c) => drill(topic.topic, section, "config_id", c.config_id));
  fillRows(section.querySelector(".malformed"), topic.malformed, (m) => [m.reason, m.records]);
  const counted = topic.history.panes.length > 0;
  section.querySelector(".no-panes").hidden = counted;
  for (const figure of section.querySelectorAll(".pane-chart")) figure.hidden = !counted;
  const bad = topic.history.malformed.reasons.length > 0;
  section.querySelector(".malformed-figure").hidden = !bad;
  section.querySelector(".no-malformed").hidden = bad;
}

// ``changed``: the names of the topics this push brought; the others' sections and charts stay as they are
function render(snapshot, changed) {
  const main = document.getElementById("topics");
  const sections = snapshot.topics.map((topic) => {
    const fresh = !(topic.topic in window.liveCharts);
    const section = topicSection(topic.topic);
    const redraw = fresh || changed.has(topic.topic);
    if (redraw) fillSection(section, topic);
    return [section, topic, window.liveCharts[topic.topic], redraw];
  });
  // sections in the snapshot's order (moved only when it changed); a topic gone from it loses its
  // section and charts
  const shown = Array.from(main.children);
  if (shown.length !== sections.length || sections.some(([section], i) => shown[i] !== section)) {
    main.replaceChildren(...sections.map(([section]) => section));
  }
  for (const name of Object.keys(window.liveCharts)) {
    if (!snapshot.topics.some((t) => t.topic === name)) {
      for (const chart of Object.values(window.liveCharts[name])) if (chart instanceof uPlot) chart.destroy();
      delete window.liveCharts[name];
    }
  }
  // charts after the sections are in the page (uPlot measures its container)
  for (const [section, topic, charts, redraw] of sections) {
    if (!redraw) continue;
    drawRecords(charts, section.querySelector(".records-chart"), topic.history);
    drawWindow(charts, section.querySelector(".window-chart"), topic.history);
    if (topic.history.malformed.reasons.length) {
      drawMalformed(charts, section.querySelector(".malformed-chart"), topic.history.malformed);
    }
    if (charts.drilled) drill(topic.topic, section, charts.drilled.key, charts.drilled.value);
  }
  const stalenessOff = document.getElementById("staleness-off");
  stalenessOff.dataset.state = snapshot.staleness;
  stalenessOff.textContent = STALENESS_OFF[snapshot.staleness] || "";
  stalenessOff.hidden = !STALENESS_OFF[snapshot.staleness];
  const pushedAt = document.getElementById("pushed-at");
  pushedAt.textContent = when(snapshot.generated_at);
  pushedAt.dataset.at = snapshot.generated_at || "";
}

// GET one of the page's own JSON routes (relative to the page); an HTTP error is thrown.
async function getJson(path) {
  const response = await fetch(`${location.pathname.replace(/\/?$/, "/")}${path}`, {cache: "no-store"});
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

// The pipeline's incidents (open and closed lately), each linked to its DAG in the Airflow UI.
const INCIDENTS_EVERY_MS = 30000;

function dagLink(incident) {
  const link = document.createElement("a");
  link.href = `/dags/${encodeURIComponent(incident.dag_id)}`;
  link.textContent = incident.incident;
  link.target = "_top";  // the page sits in the Airflow UI's frame: the DAG opens in the UI itself
  return link;
}

function incidentRows(table, incidents, cells) {
  table.querySelector("tbody").replaceChildren(...incidents.map((incident) => {
    const tr = document.createElement("tr");
    tr.dataset.incident = incident.incident;
    for (const value of cells(incident)) {
      const td = document.createElement("td");
      td.append(value);
      tr.append(td);
    }
    return tr;
  }));
}

async function loadIncidents() {
  const summary = document.getElementById("incidents-summary");
  try {
    const incidents = await getJson("api/incidents");
    incidentRows(document.getElementById("open-incidents"), incidents.open,
                 (i) => [dagLink(i), when(i.opened), i.error]);
    incidentRows(document.getElementById("recent-incidents"), incidents.recent,
                 (i) => [dagLink(i), when(i.opened), when(i.closed)]);
    summary.textContent = incidents.open.length ? `(${incidents.open.length} open)` : "(none open)";
    summary.dataset.open = incidents.open.length;
  } catch (error) {
    summary.textContent = `(could not be read: ${error.message})`;
  }
  setTimeout(loadIncidents, INCIDENTS_EVERY_MS);
}

// Says so while an open feed brings nothing (a listener stuck or dead on the server): the numbers
// on the page are as old as the last push.
function watchSilence() {
  const silent = document.getElementById("silent");
  const open = document.getElementById("connection").dataset.state === "live";
  const quiet = Date.now() - lastMessageAt;
  if (open && quiet > SILENT_AFTER_MS) {
    silent.textContent = `No news from the server since ${new Date(lastMessageAt).toISOString().slice(11, 19)} UTC ` +
      `(${Math.round(quiet / 1000)} s): the numbers below may be stale.`;
    silent.hidden = false;
  } else {
    silent.hidden = true;
  }
}

// Storm's own figures per topology (what the Storm UI would show), from Nimbus through the server;
// the panels (Storm, Flume) are read again every 10 s.
const PANELS_EVERY_MS = 10000;

function uptime(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

async function loadStorm() {
  const summary = document.getElementById("storm-summary");
  try {
    const storm = await getJson("api/storm");
    const count = (n) => n.toLocaleString("en-US");
    fillRows(document.getElementById("storm-topologies"), storm.topologies,
             (t) => [t.name, t.status, uptime(t.uptime_secs), t.workers, t.executors, count(t.emitted), count(t.acked),
                     count(t.failed), t.complete_latency_ms.toFixed(1)]);
    fillRows(document.getElementById("storm-components"),
             storm.topologies.flatMap((t) => t.components.map((c) => ({topology: t.name, ...c}))),
             (c) => [c.topology, c.id, c.executors, count(c.emitted), count(c.acked), count(c.failed),
                     c.capacity == null ? "--" : c.capacity.toFixed(3)]);
    summary.dataset.state = storm.state;
    summary.textContent = storm.state === "on" ? `(${storm.topologies.length} running, read ${when(storm.read_at)})`
      : storm.state === "off" ? `(not shown: ${storm.error})` : `(Nimbus not readable: ${storm.error})`;
  } catch (error) {
    summary.textContent = `(could not be read: ${error.message})`;
  }
  setTimeout(loadStorm, PANELS_EVERY_MS);
}

// Each Flume agent's events in and out, channel fill and failovers, from its metrics through the server.
async function loadFlume() {
  const summary = document.getElementById("flume-summary");
  const figure = (n) => (n == null ? "--" : n.toLocaleString("en-US"));
  try {
    const flume = await getJson("api/flume");
    fillRows(document.getElementById("flume-agents"), flume.agents,
             (a) => a.up ? [a.agent, a.tier, "up", figure(a.events_in), figure(a.rate_in), figure(a.events_out),
                            figure(a.rate_out), `${a.channel_fill_percent.toFixed(1)}%`, figure(a.connection_failures),
                            figure(a.failover_events)]
                         : [a.agent, a.tier, `down: ${a.error}`, "--", "--", "--", "--", "--", "--", "--"]);
    const down = flume.agents.filter((a) => !a.up).length;
    summary.dataset.state = flume.state;
    summary.textContent = flume.state !== "on" ? `(not shown: ${flume.error})`
      : `(${flume.agents.length - down} up${down ? `, ${down} down` : ""}, read ${when(flume.read_at)})`;
  } catch (error) {
    summary.textContent = `(could not be read: ${error.message})`;
  }
  setTimeout(loadFlume, PANELS_EVERY_MS);
}

connect();
loadIncidents();
loadStorm();
loadFlume();
setInterval(watchSilence, 1000);
