// The backtest report's page: draws window.REPORT with the shared components (mesdesk-charts.js).
"use strict";

(function () {
  const MC = window.MesCharts;
  const R = window.REPORT;
  const $ = (id) => document.getElementById(id);
  const fmt = MC.fmtNum;
  const days = R.days.map((d) => d.day);
  const byDay = Object.fromEntries(R.days.map((d) => [d.day, d]));

  $("window").textContent = `Bars ${R.first_bar_ct} to ${R.last_bar_ct} ${R.tz} · ${R.candidates_count} candidates · `
    + `${R.trades.length} trades. Points are net of slippage and commission. A bar holding both the stop and the target `
    + "fills the stop in the result and the target in the optimistic bound.";

  // the bounds table
  const BOUND_COLUMNS = [
    { key: "run", label: "Run", fmt: (v) => v },
    { key: "trades", label: "Trades", num: true, fmt: (v) => fmt(v, 0) },
    { key: "win_rate", label: "Win %", num: true, fmt: (v) => fmt(v, 1) },
    { key: "expectancy_pts", label: "Expectancy pts", num: true, fmt: (v) => fmt(v, 3) },
    { key: "net_pts", label: "Net pts", num: true },
    { key: "net_usd", label: "Net $", num: true },
    { key: "profit_factor", label: "Profit factor", num: true },
    { key: "max_drawdown_pts", label: "Max DD pts", num: true },
    { key: "avg_win_pts", label: "Avg win", num: true }, { key: "avg_loss_pts", label: "Avg loss", num: true },
    { key: "ambiguous", label: "Ambiguous", num: true, fmt: (v) => fmt(v, 0) },
  ];
  MC.dataTable($("bounds"), BOUND_COLUMNS, R.bounds, { filter: false, maxHeight: "none" });

  // the day chart
  const price = MC.candleChart($("price"), { height: 460, span: R.days.length ? R.days[0].span_s : 60 });
  window.reportChart = price;
  const select = $("day");
  days.forEach((d) => select.appendChild(MC.el("option", { value: d, text: `${d} ${byDay[d].weekday}` })));

  function bars(d) {
    const b = d.bars;
    return b.t.map((t, i) => ({ t, ts: b.ts[i], open: b.open[i], high: b.high[i], low: b.low[i], close: b.close[i], ema20: b.ema20[i], vwap: b.vwap[i] }));
  }

  function showDay(day, focusTrade) {
    const d = byDay[day];
    if (!d) return;
    select.value = day;
    price.setSpan(d.span_s);
    price.setBars(bars(d));
    price.setOpeningRange(d.opening_range);
    const cands = R.candidates.filter((c) => c.day === day);
    const trades = R.trades.filter((t) => t.day === day);
    price.setCandidates(cands);
    price.setTrades(trades, null);
    const net = trades.reduce((s, t) => s + (t.pnl_pts || 0), 0);
    $("day-info").textContent = `${cands.length} candidates · ${trades.length} trades · ${fmt(net)} pts`;
    document.body.dataset.day = day;
    if (focusTrade) {
      price.focus(focusTrade.entry_t - 30 * d.span_s, (focusTrade.exit_t || focusTrade.entry_t) + 30 * d.span_s);
    } else {
      const rth = d.bars.t.findIndex((t) => MC.fmtTime(t) >= "08:00" && MC.fmtDay(t) === day);
      if (rth >= 0) price.chart.timeScale().setVisibleLogicalRange({ from: rth, to: Math.min(d.bars.t.length, rth + 450) });
      else price.fit();
    }
  }

  function showTrade(t) {
    showDay(t.day, t);
    const steps = (t.stops || []).map((s) => `<li>${MC.fmtTime(s.t)} CT · stop ${s.why === "initial" ? "at" : "moved to"} ${fmt(s.stop)} (${MC.esc(s.why)})</li>`);
    $("trade-detail").innerHTML = `<b>#${t.id} ${MC.esc(t.direction)} ${MC.esc(t.setup)}</b> · ${MC.esc(t.session)} · score ${fmt(t.prefilter_score, 0)}`
      + `<ol><li>${t.entry_ct} CT · entry ${fmt(t.entry_price)} · target ${fmt(t.target)}</li>${steps.join("")}`
      + `<li>${t.exit_ct || "–"} CT · exit ${MC.esc(t.exit_reason)} ${fmt(t.exit_price)} · ${fmt(t.pnl_pts, 3)} pts`
      + `${t.ambiguous ? " · ambiguous bar (stop assumed first)" : ""} · MAE ${fmt(t.mae)} · MFE ${fmt(t.mfe)}</li></ol>`;
    $("trade-detail").classList.remove("muted");
    document.body.dataset.trade = String(t.id);
  }

  select.addEventListener("change", () => showDay(select.value));
  const step = (k) => { const i = days.indexOf(select.value) + k; if (i >= 0 && i < days.length) showDay(days[i]); };
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));

  // the trades table
  const TRADE_COLUMNS = [
    { key: "id", label: "#", num: true, fmt: (v) => String(v) },
    { key: "day", label: "Day", fmt: (v) => v },
    { key: "entry_t", label: "Entry (CT)", fmt: (v) => MC.fmtTime(v) },
    { key: "exit_t", label: "Exit (CT)", fmt: (v, r) => (r.exit_ct ? r.exit_ct.slice(11, 16) : "–") },
    { key: "setup", label: "Setup", fmt: (v) => v },
    { key: "direction", label: "Dir", fmt: (v) => v },
    { key: "session", label: "Session", fmt: (v) => v || "–" },
    { key: "prefilter_score", label: "Score", num: true, fmt: (v) => fmt(v, 0) },
    { key: "confidence", label: "Conf", num: true, fmt: (v) => fmt(v, 0) },
    { key: "entry_price", label: "Entry", num: true },
    { key: "exit_price", label: "Exit", num: true },
    { key: "exit_reason", label: "Exit reason", fmt: (v) => v || "–" },
    { key: "pnl_pts", label: "P&L pts", num: true, fmt: (v) => fmt(v, 3), cls: (v) => (v > 0 ? "pos" : v < 0 ? "neg" : "") },
    { key: "mae", label: "MAE", num: true }, { key: "mfe", label: "MFE", num: true },
    { key: "ambiguous", label: "Ambig.", fmt: (v) => (v ? "yes" : "–") },
  ];
  MC.dataTable($("trades"), TRADE_COLUMNS, R.trades, { onClick: showTrade, maxHeight: "360px" });

  // equity, scatter, groups
  MC.equityChart($("equity"), { height: 280 }).setData(R.equity);
  MC.scatter($("scatter"), R.trades.filter((t) => t.mae !== null && t.mfe !== null).map((t) => ({
    x: t.mae, y: t.mfe, cls: t.pnl_pts > 0 ? "win" : t.pnl_pts < 0 ? "loss" : "",
    title: `#${t.id} ${t.day} ${MC.fmtTime(t.entry_t)} CT ${t.setup} ${t.direction}: MAE ${fmt(t.mae)} MFE ${fmt(t.mfe)} P&L ${fmt(t.pnl_pts)}`,
  })), { height: 280 });
  Object.entries(R.by).forEach(([name, items]) => {
    const box = MC.el("div", {}, [MC.el("h2", { text: `By ${name}` })]);
    const list = MC.el("div");
    box.appendChild(list);
    $("groups").appendChild(box);
    if (items.length) MC.barList(list, items); else list.textContent = "no closed trades";
  });

  const first = R.open_day && byDay[R.open_day] ? R.open_day
    : (R.trades.length ? Object.entries(R.trades.reduce((m, t) => ((m[t.day] = (m[t.day] || 0) + 1), m), {})).sort((a, b) => b[1] - a[1])[0][0] : days[0]);
  if (first) showDay(first);
  document.body.dataset.ready = "1";
})();
