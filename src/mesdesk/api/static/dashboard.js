// mesdesk dashboard: polls the API every few seconds; no library, no network beyond this server.
"use strict";

const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);
const fmt = (v, digits = 2) => (v === null || v === undefined ? "–" : typeof v === "number" ? v.toFixed(digits) : String(v));

async function getJSON(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fillTable(id, rows, render) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map(render));
}

function renderStatus(summary, runner) {
  const status = $("status");
  status.dataset.running = String(summary.running);
  let text = summary.running ? "running" : "stopped";
  if (runner.paused && runner.paused_reason) text += ` · ${runner.paused_reason}`;
  if (runner.error) text += ` · no runner: ${runner.error}`;
  $("status-text").textContent = text;
  $("trades-today").textContent = summary.trades_today;
  $("net-points").textContent = fmt(summary.net_points_today);
  $("win-rate").textContent = summary.win_rate_trailing20 === null ? "–" : `${fmt(summary.win_rate_trailing20, 1)} %`;
  $("ttt").textContent = summary.avg_time_to_target_sec === null ? "–" : `${fmt(summary.avg_time_to_target_sec, 0)} s`;
  const pos = runner.position;
  $("position").textContent = pos
    ? `${pos.direction} ${pos.setup} @ ${fmt(pos.entry_price)} · stop ${fmt(pos.stop)} · target ${fmt(pos.target)}`
    : "flat";
  const bar = runner.last_bar_ct ? `last bar ${runner.last_bar_ct} CT` : "no bar yet";
  const proc = runner.process;
  let procText = "";
  if (proc) {
    procText = ` · process ${proc.pid} ${proc.alive ? "alive" : "down"}`;
    if (proc.restarts) procText += ` · restarted ${proc.restarts}× (last exit ${proc.last_exit})`;
  }
  $("runner-info").textContent =
    `${runner.mode} · ${runner.source || ""} · ${bar} · holder ${runner.holder || "none"}${procText}`;
}

function renderBudget(b) {
  $("budget-calls").textContent = `${b.calls_used} / ${b.calls_cap}`;
  $("budget-paused").textContent = b.paused ? b.paused_reason || "yes" : "no";
}

function renderLive(live) {
  $("live-setup").textContent = fmt(live.setup_type);
  $("live-direction").textContent = fmt(live.direction);
  $("live-score").textContent = fmt(live.prefilter_score, 0);
  $("live-volume").textContent = fmt(live.volume_multiple);
  $("live-atr").textContent = fmt(live.atr_5m);
  $("live-session").textContent = fmt(live.session_label);
  $("live-time").textContent = fmt(live.timestamp_ct);
}

function renderTrades(trades) {
  fillTable("trades", trades, (t) => {
    const tr = document.createElement("tr");
    tr.className = t.result;
    [t.entry_ts.slice(11, 19), t.setup, t.direction, t.session, fmt(t.prefilter_score, 0), fmt(t.confidence, 0),
     fmt(t.entry_price), fmt(t.exit_price), t.exit_reason].forEach((v) => cell(tr, v));
    cell(tr, fmt(t.pnl_pts, 3), "pnl");
    [fmt(t.time_to_target, 0), fmt(t.mae), fmt(t.mfe), t.result].forEach((v) => cell(tr, v));
    return tr;
  });
}

function renderJournal(rows) {
  fillTable("journal", rows, (j) => {
    const tr = document.createElement("tr");
    if (j.pnl_pts !== null) tr.className = j.pnl_pts > 0 ? "win" : "loss";
    [j.timestamp_ct.slice(11), j.setup, j.direction, fmt(j.prefilter_score, 0), j.decision, j.decision_source, j.gate].forEach(
      (v) => cell(tr, v));
    cell(tr, j.reason, "reason");
    cell(tr, fmt(j.pnl_pts, 3), "pnl");
    return tr;
  });
}

function renderFingerprints(rows) {
  fillTable("fingerprints", rows, (f) => {
    const tr = document.createElement("tr");
    [f.fingerprint_id, f.setup, f.status, f.samples, fmt(f.win_rate, 1), fmt(f.expectancy, 3)].forEach((v) => cell(tr, v));
    return tr;
  });
}

function renderEquity(points) {
  const svg = $("equity");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const values = [0, ...points.map((p) => p.equity_pts)];
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || 1;
  const x = (i) => (values.length === 1 ? 0 : (i / (values.length - 1)) * 800);
  const y = (v) => 190 - ((v - lo) / span) * 180;
  const zero = document.createElementNS(ns, "line");
  zero.setAttribute("x1", "0"); zero.setAttribute("x2", "800");
  zero.setAttribute("y1", String(y(0))); zero.setAttribute("y2", String(y(0)));
  zero.setAttribute("stroke", "#2d3742");
  svg.appendChild(zero);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", values[values.length - 1] >= 0 ? "#3fb950" : "#f85149");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  line.id = "equity-line";
  svg.appendChild(line);
  svg.dataset.points = String(points.length);
}

async function refresh() {
  try {
    const [summary, runner, budget, live, trades, journal, fingerprints, equity] = await Promise.all([
      getJSON("/metrics/summary"), getJSON("/metrics/runner"), getJSON("/metrics/budget"), getJSON("/metrics/live"),
      getJSON("/metrics/trades"), getJSON("/metrics/journal?limit=100"), getJSON("/metrics/fingerprints"),
      getJSON("/metrics/equity"),
    ]);
    renderStatus(summary, runner);
    renderBudget(budget);
    renderLive(live);
    renderTrades(trades);
    renderJournal(journal);
    renderFingerprints(fingerprints);
    renderEquity(equity);
    $("error").hidden = true;
    document.body.dataset.refreshed = String(Date.now());
  } catch (err) {
    $("error").textContent = String(err);
    $("error").hidden = false;
  }
}

async function control(action) {
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`/control/${action}`, { method: "POST", headers });
  if (!res.ok) {
    const body = await res.json().catch(() => ({ detail: res.statusText }));
    $("error").textContent = `${action}: ${body.detail}`;
    $("error").hidden = false;
    return;
  }
  await refresh();
}

$("btn-start").addEventListener("click", () => control("start"));
$("btn-stop").addEventListener("click", () => control("stop"));
refresh();
// Server push (/stream): refresh when the runner stores a bar, a candidate or a trade; while the
// stream is open the timer only backs it up every 15 s, and it polls every 2 s again if the stream drops.
let timer = setInterval(refresh, REFRESH_MS);
if (window.EventSource) {
  const stream = new EventSource("/stream");
  let queued = null;
  const soon = () => { if (!queued) queued = setTimeout(() => { queued = null; refresh(); }, 100); };
  for (const kind of ["bar", "candidate", "trade"]) stream.addEventListener(kind, soon);
  const every = (ms) => { clearInterval(timer); timer = setInterval(refresh, ms); };
  stream.onopen = () => every(15000);
  stream.onerror = () => every(REFRESH_MS);
}
