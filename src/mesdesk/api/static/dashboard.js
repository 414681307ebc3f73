// mesdesk dashboard: polls the cheap /chart/poll cursor every second and, when the runner has processed a
// new bar, fetches only what changed. No network beyond this server; the chart library is vendored.
"use strict";

const MC = window.MesCharts;
const POLL_MS = 1000;
const SLOW_MS = 60000;
const $ = (id) => document.getElementById(id);
const fmt = MC.fmtNum;
const SPANS = { "1m": 60, "5m": 300, "15m": 900 };

const state = { tf: "1m", scanTf: "15m", lastBarTs: null, day: null, bars: [], trades: [], busy: false, lastSlow: 0 };
window.mesdesk = state; // read by the browser tests (marker counts, coordinates)

async function getJSON(path) {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) {
    const body = await res.json().catch(() => ({ detail: res.statusText }));
    throw new Error(`${path}: ${res.status} ${body.detail || ""}`);
  }
  return res.json();
}

function showError(err) {
  $("error").textContent = String(err);
  $("error").hidden = !err;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fillTable(id, rows, render) {
  document.querySelector(`#${id} tbody`).replaceChildren(...rows.map(render));
}

const ctClock = (iso) => (iso ? iso.slice(11, 19) : "–"); // "YYYY-MM-DD HH:MM:SS" (CT) -> time

// ---------------------------------------------------------------- price chart

const price = MC.candleChart($("price"), { height: 480, span: SPANS[state.tf] });
state.chart = price;

async function loadPrice(full) {
  const since = !full && state.bars.length ? `&since=${encodeURIComponent(state.bars[state.bars.length - 1].ts)}` : "";
  const [bars, candidates, trades] = await Promise.all([
    getJSON(`/chart/bars?timeframe=${state.tf}${since}`),
    getJSON("/chart/candidates"),
    getJSON("/chart/trades"),
  ]);
  if (full || bars.trading_day !== state.day) {
    state.bars = bars.bars;
    price.setSpan(SPANS[state.tf]);
    price.setBars(bars.bars);
    price.showLast(state.tf === "1m" ? 150 : 80);
  } else {
    bars.bars.forEach((b) => {
      const last = state.bars[state.bars.length - 1];
      if (last && last.t === b.t) state.bars[state.bars.length - 1] = b; else state.bars.push(b);
    });
    price.updateBars(bars.bars);
  }
  state.day = bars.trading_day;
  price.setOpeningRange(bars.opening_range);
  price.setCandidates(candidates);
  price.setTrades(trades.trades, trades.position);
  state.trades = trades.trades;
  state.candidates = candidates;
  $("chart-day").textContent = bars.trading_day ? `trading day ${bars.trading_day}` : "no bars yet";
  renderTrades(trades.trades);
  renderPosition(trades.position);
}

function renderPosition(pos) {
  if (!pos) { $("position").textContent = "flat"; return; }
  const how = pos.trailing ? "trailing" : pos.breakeven ? "at breakeven" : pos.bracket || "";
  $("position").textContent = `${pos.direction} ${pos.setup} @ ${fmt(pos.entry_price)} since ${ctClock(pos.entry_ct)} CT`
    + ` · target ${fmt(pos.target)} · stop ${fmt(pos.stop)} ${how}`;
}

const TRADE_COLUMNS = [
  { key: "entry_t", label: "Entry (CT)", fmt: (v) => MC.fmtTime(v) },
  { key: "exit_t", label: "Exit (CT)", fmt: (v, r) => (r.exit_ts ? r.exit_ct.slice(11, 16) : "–") },
  { key: "setup", label: "Setup", fmt: (v) => v },
  { key: "direction", label: "Dir", fmt: (v) => v },
  { key: "session", label: "Session", fmt: (v) => v },
  { key: "prefilter_score", label: "Score", num: true, fmt: (v) => fmt(v, 0) },
  { key: "confidence", label: "Conf", num: true, fmt: (v) => fmt(v, 0) },
  { key: "entry_price", label: "Entry", num: true },
  { key: "exit_price", label: "Exit", num: true },
  { key: "exit_reason", label: "Exit reason", fmt: (v) => v || "–" },
  { key: "pnl_pts", label: "P&L pts", num: true, fmt: (v) => fmt(v, 3), cls: (v) => (v > 0 ? "pos" : v < 0 ? "neg" : "") },
  { key: "mae", label: "MAE", num: true }, { key: "mfe", label: "MFE", num: true },
  { key: "stops", label: "Stop moves", fmt: (v) => (v && v.length > 1 ? v.slice(1).map((s) => `${s.why} ${fmt(s.stop)} ${MC.fmtTime(s.t)}`).join(", ") : "–") },
  { key: "result", label: "Result", fmt: (v) => v },
];
const tradesTable = MC.dataTable($("trades"), TRADE_COLUMNS, [], {
  filter: false, maxHeight: "260px", rowClass: (r) => r.result,
  onClick: (r) => price.focus(r.entry_t - 20 * SPANS[state.tf], (r.exit_t || r.entry_t) + 20 * SPANS[state.tf]),
});
function renderTrades(trades) { tradesTable.setRows(trades); }

// ---------------------------------------------------------------- scanner and forecast

const scanChart = MC.candleChart($("scan-chart"), { height: 300, span: 900, vwap: false });
let scanSeries = [];
const SCAN_COLUMNS = [
  { key: "c_t", label: "C (CT)", fmt: (v) => MC.fmtDateTime(v) },
  { key: "direction", label: "Dir", fmt: (v) => v },
  { key: "entry", label: "Entry", num: true }, { key: "stop", label: "Stop", num: true },
  { key: "target_100", label: "Target 100%", num: true }, { key: "target_123_6", label: "Target 123.6%", num: true },
  { key: "vix", label: "VIX", num: true },
  { key: "vix_filter_passed", label: "VIX filter", fmt: (v) => (v ? "passed" : "blocked") },
  { key: "outcome", label: "Outcome", fmt: (v) => v || "open" },
];
const scanTable = MC.dataTable($("scan-table"), SCAN_COLUMNS, [], { filter: false, maxHeight: "180px" });

async function loadScanner() {
  const data = await getJSON(`/chart/scanner?timeframe=${state.scanTf}`);
  const span = { "5m": 300, "15m": 900, "1h": 3600 }[state.scanTf];
  scanSeries.forEach((s) => scanChart.chart.removeSeries(s));
  scanSeries = [];
  scanChart.setSpan(span);
  scanChart.setBars(data.bars || []);
  const LW = window.LightweightCharts;
  const last = data.bars && data.bars.length ? data.bars[data.bars.length - 1].t : null;
  const have = new Set((data.bars || []).map((b) => b.t));
  const shown = data.signals.filter((s) => have.has(MC.snap(s.a_t, span))).slice(-6); // SCANNER_SIGNALS on the server
  shown.forEach((s) => {
    const color = s.direction === "long" ? MC.COLORS.up : MC.COLORS.down;
    const leg = scanChart.chart.addSeries(LW.LineSeries, { color, lineWidth: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false });
    leg.setData(MC.lineData([{ time: MC.snap(s.a_t, span), value: s.a_price }, { time: MC.snap(s.b_t, span), value: s.b_price }, { time: MC.snap(s.c_t, span), value: s.c_price }]));
    scanSeries.push(leg);
    const from = MC.snap(s.confirmed_t || s.c_t, span);
    const to = Math.max(from, s.outcome_t ? MC.snap(s.outcome_t, span) : last || from);
    [["target_100", MC.COLORS.target, 2], ["target_123_6", MC.COLORS.target, 1], ["stop", MC.COLORS.stop, 0]].forEach(([k, c, style]) => {
      if (s[k] === null || s[k] === undefined || !have.has(from)) return;
      const line = scanChart.chart.addSeries(LW.LineSeries, { color: c, lineWidth: 1, lineStyle: style, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false });
      line.setData(MC.lineData([{ time: from, value: s[k] }, { time: to, value: s[k] }]));
      scanSeries.push(line);
    });
  });
  scanChart.fit();
  $("scan-chart").dataset.signals = String(shown.length);
  scanTable.setRows(data.signals.slice().reverse());
}

async function loadForecast() {
  const box = $("forecast");
  try {
    const f = await getJSON("/mes/forecast");
    box.classList.remove("muted");
    const meta = f.llm_metadata || {};
    const rows = Object.entries(f.forecasts || {}).map(([h, v]) => `<tr><td>${MC.esc(h)}</td><td class="num">${MC.esc(v)}</td></tr>`).join("");
    const asOf = f.as_of_ct || (f.as_of ? `${f.as_of} (UTC)` : "–");
    box.innerHTML = `<dl><dt>Model</dt><dd>${MC.esc(f.model || "–")}</dd>`
      + `<dt>Fallback</dt><dd>${meta.fallback_used ? "yes: " + MC.esc(meta.fallback_reason || "") : "no"}</dd>`
      + `<dt>As of</dt><dd id="forecast-asof">${MC.esc(asOf)}</dd></dl>`
      + `<table class="fc"><thead><tr><th>Horizon</th><th class="num">Forecast</th></tr></thead><tbody>${rows}</tbody></table>`;
    if (f.as_of && !f.as_of_ct) $("forecast-asof").textContent = await ctOf(f.as_of);
  } catch (err) {
    box.textContent = `forecast unavailable: ${err.message}`;
  }
}

// CT text of an ISO instant, with the browser's zone database (the server's TIMEZONE is Central Time).
async function ctOf(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: state.timezone || "America/Chicago", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
  return `${parts.replace(",", "")} CT`;
}

// ---------------------------------------------------------------- cards, journal, equity

const equity = MC.equityChart($("equity"), { height: 260 });

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
  const bar = runner.last_bar_ct ? `last bar ${runner.last_bar_ct.replace("T", " ")} CT` : "no bar yet";
  const delay = runner.feed_delay_s;
  const feed = delay === null || delay === undefined ? "" : ` · feed delayed by ${delay < 120 ? `${fmt(delay, 0)} s` : `${fmt(delay / 60, 0)} min`}`;
  $("runner-info").textContent = `${runner.mode} · ${runner.source || ""} · ${bar}${feed} · holder ${runner.holder || "none"}`;
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
  $("live-time").textContent = live.timestamp_ct ? live.timestamp_ct.replace("T", " ") : "–";
}

function renderJournal(rows) {
  fillTable("journal", rows, (j) => {
    const tr = document.createElement("tr");
    if (j.pnl_pts !== null) tr.className = j.pnl_pts > 0 ? "win" : "loss";
    [j.timestamp_ct.slice(11), j.setup, j.direction, fmt(j.prefilter_score, 0), j.decision, j.decision_source || "–", j.gate || "–"].forEach(
      (v) => cell(tr, v));
    cell(tr, j.reason || "–", "reason");
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

async function loadCards() {
  const [summary, runner, budget, live, journal, fingerprints, eq] = await Promise.all([
    getJSON("/metrics/summary"), getJSON("/metrics/runner"), getJSON("/metrics/budget"), getJSON("/metrics/live"),
    getJSON("/metrics/journal?limit=100"), getJSON("/metrics/fingerprints"), getJSON("/chart/equity"),
  ]);
  renderStatus(summary, runner);
  renderBudget(budget);
  renderLive(live);
  renderJournal(journal);
  renderFingerprints(fingerprints);
  equity.setData(eq);
}

// ---------------------------------------------------------------- the poll loop

async function tick(force) {
  if (state.busy) return;
  state.busy = true;
  try {
    const p = await getJSON("/chart/poll");
    state.timezone = p.timezone;
    const changed = force || p.last_bar_ts !== state.lastBarTs;
    $("chart-cursor").textContent = p.last_bar_ct ? `last bar ${p.last_bar_ct} CT` : "waiting for the first bar";
    if (changed) {
      const dayChanged = p.trading_day !== state.day;
      await Promise.all([loadPrice(force || dayChanged), loadCards()]);
      state.lastBarTs = p.last_bar_ts;
      document.body.dataset.lastBar = p.last_bar_ts || "";
    }
    if (force || Date.now() - state.lastSlow > SLOW_MS) {
      state.lastSlow = Date.now();
      loadScanner().catch((err) => { $("scan-table").textContent = `scanner unavailable: ${err.message}`; });
      loadForecast();
    }
    showError(null);
    document.body.dataset.refreshed = String(Date.now());
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
}

async function control(action) {
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`/control/${action}`, { method: "POST", headers });
  if (!res.ok) {
    const body = await res.json().catch(() => ({ detail: res.statusText }));
    showError(`${action}: ${body.detail}`);
    return;
  }
  await loadCards().catch(showError);
}

function tfButtons(id, key, after) {
  $(id).querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
    state[key] = b.dataset.tf;
    $(id).querySelectorAll("button").forEach((x) => x.classList.toggle("on", x === b));
    after();
  }));
}

tfButtons("tf-price", "tf", () => loadPrice(true).catch(showError));
tfButtons("tf-scan", "scanTf", () => loadScanner().catch(showError));
$("btn-start").addEventListener("click", () => control("start"));
$("btn-stop").addEventListener("click", () => control("stop"));
tick(true);
setInterval(() => tick(false), POLL_MS);
