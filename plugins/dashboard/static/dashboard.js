// The live page: one WebSocket, every message a full snapshot (see logstream/results/live_view.py).
// A refused handshake (close 1008) is final; any other close reconnects with a growing delay,
// so the page comes back by itself after the api-server restarts.
"use strict";

const REFUSED = 1008;
const SVG = "http://www.w3.org/2000/svg";
let retryDelay = 500;

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${location.pathname.replace(/\/?$/, "/")}ws`;
}

function setConnection(state, text) {
  const element = document.getElementById("connection");
  element.dataset.state = state;
  element.textContent = text;
}

function connect() {
  const socket = new WebSocket(socketUrl());
  socket.onopen = () => { retryDelay = 500; setConnection("live", "live"); };
  socket.onmessage = (event) => render(JSON.parse(event.data));
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

function fillRows(table, rows, cells) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    for (const value of cells(row)) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    return tr;
  }));
}

function drawConfigs(svg, configs) {
  const rowHeight = 16, labelWidth = 70, barWidth = 260, countWidth = 70;
  const largest = Math.max(1, ...configs.map((c) => c.records));
  svg.setAttribute("width", labelWidth + barWidth + countWidth);
  svg.setAttribute("height", Math.max(rowHeight, configs.length * rowHeight));
  svg.replaceChildren(...configs.flatMap((config, i) => {
    const y = i * rowHeight;
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", 0); label.setAttribute("y", y + 12);
    label.textContent = config.config_id;
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", labelWidth); bar.setAttribute("y", y + 2);
    bar.setAttribute("height", rowHeight - 4);
    bar.setAttribute("width", Math.max(1, (barWidth * config.records) / largest));
    bar.dataset.configId = config.config_id;
    bar.dataset.records = config.records;
    const count = document.createElementNS(SVG, "text");
    count.setAttribute("x", labelWidth + barWidth + 4); count.setAttribute("y", y + 12);
    count.textContent = config.records.toLocaleString("en-US");
    return [label, bar, count];
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

function render(snapshot) {
  const main = document.getElementById("topics");
  const template = document.getElementById("topic-template");
  main.replaceChildren(...snapshot.topics.map((topic) => {
    const section = template.content.firstElementChild.cloneNode(true);
    section.dataset.topic = topic.topic;
    section.querySelector(".topic-name").textContent = topic.topic;
    const stale = section.querySelector(".stale");
    if (topic.stale) {
      stale.textContent = `Stale since ${topic.stale.since ? hourMinute(topic.stale.since) : "ever (nothing counted yet)"}: ` +
        `${topic.stale.waiting.toLocaleString("en-US")} records wait in Kafka and no flush came.`;
      stale.dataset.since = topic.stale.since || "";
      stale.dataset.waiting = topic.stale.waiting;
      stale.hidden = false;
    }
    section.querySelector(".records-per-second").textContent = topic.records_per_second.toFixed(2);
    section.querySelector(".last-update").textContent = when(topic.last_update);
    section.querySelector(".newest-pane").textContent = when(topic.newest_pane);
    section.querySelector(".late").textContent = topic.late.late;
    section.querySelector(".expired").textContent = topic.late.expired;
    fillRows(section.querySelector(".top-hosts"), topic.top_hosts, (h) => [h.host, h.records]);
    fillRows(section.querySelector(".malformed"), topic.malformed, (m) => [m.reason, m.records]);
    drawConfigs(section.querySelector(".configs-chart"), topic.configs_last_hour);
    return section;
  }));
  const stalenessOff = document.getElementById("staleness-off");
  stalenessOff.dataset.state = snapshot.staleness;
  stalenessOff.textContent = STALENESS_OFF[snapshot.staleness] || "";
  stalenessOff.hidden = !STALENESS_OFF[snapshot.staleness];
  const pushedAt = document.getElementById("pushed-at");
  pushedAt.textContent = when(snapshot.generated_at);
  pushedAt.dataset.at = snapshot.generated_at || "";
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
    const response = await fetch(`${location.pathname.replace(/\/?$/, "/")}api/incidents`, {cache: "no-store"});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const incidents = await response.json();
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

connect();
loadIncidents();
