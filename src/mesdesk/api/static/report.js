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
  days.forEach((d) => {
    const why = byDay[d].why ? ` · ${byDay[d].why.join(", ")}` : "";
    select.appendChild(MC.el("option", { value: d, text: `${d} ${byDay[d].weekday}${why}` }));
  });
  $("embedded").textContent = R.embedded_note;

  function bars(d) {
    const b = d.bars;
    return b.t.map((t, i) => ({ t, ts: b.ts[i], open: b.open[i], high: b.high[i], low: b.low[i], close: b.close[i], ema20: b.ema20[i], vwap: b.vwap[i] }));
  }

  function showDay(day, focusTrade) {
    const d = byDay[day];
    if (!d) return false;
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
    return true;
  }

  function showTrade(t) {
    const drawn = showDay(t.day, t);
    const steps = (t.stops || []).map((s) => `<li>${MC.fmtTime(s.t)} CT · stop ${s.why === "initial" ? "at" : "moved to"} ${fmt(s.stop)} (${MC.esc(s.why)})</li>`);
    $("trade-detail").innerHTML = `<b>#${t.id} ${MC.esc(t.direction)} ${MC.esc(t.setup)}</b> · ${MC.esc(t.session)} · score ${fmt(t.prefilter_score, 0)}`
      + `<ol><li>${t.entry_ct} CT · entry ${fmt(t.entry_price)} · target ${fmt(t.target)}</li>${steps.join("")}`
      + `<li>${t.exit_ct || "–"} CT · exit ${MC.esc(t.exit_reason)} ${fmt(t.exit_price)} · ${fmt(t.pnl_pts, 3)} pts`
      + `${t.ambiguous ? " · ambiguous bar (stop assumed first)" : ""} · MAE ${fmt(t.mae)} · MFE ${fmt(t.mfe)}</li></ol>`
      + (drawn ? "" : `<p>The bars of ${t.day} are not in this file (the chart still shows ${MC.esc(select.value)}): `
        + `run the same backtest again with --chart-day ${t.day} to draw it.</p>`);
    $("trade-detail").classList.remove("muted");
    document.body.dataset.trade = String(t.id);
  }

  select.addEventListener("change", () => showDay(select.value));
  const step = (k) => { const i = days.indexOf(select.value) + k; if (i >= 0 && i < days.length) showDay(days[i]); };
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));

  // the overview: a daily candle per trading day of the run, a marker on each day whose bars are in the file
  const OV = R.overview;
  const LW = window.LightweightCharts;
  const ovOptions = MC.baseOptions(220);
  ovOptions.timeScale.timeVisible = false;
  ovOptions.timeScale.tickMarkFormatter = (t, type) => (type === 0 ? MC.fmtDay(t).slice(0, 4) : type === 1 ? MC.fmtDay(t).slice(0, 7) : MC.fmtDay(t).slice(5));
  ovOptions.localization.timeFormatter = (t) => MC.fmtDay(t);
  const overview = LW.createChart($("overview"), ovOptions);
  window.reportOverview = overview;
  const daily = overview.addSeries(LW.CandlestickSeries, {
    upColor: MC.COLORS.up, downColor: MC.COLORS.down, borderVisible: false, wickUpColor: MC.COLORS.up, wickDownColor: MC.COLORS.down,
  });
  daily.setData(OV.t.map((t, i) => ({ time: t, open: OV.open[i], high: OV.high[i], low: OV.low[i], close: OV.close[i] })));
  const inFile = OV.embedded.filter(Boolean).length;
  if (inFile < OV.day.length) {
    LW.createSeriesMarkers(daily, OV.t.filter((t, i) => OV.embedded[i]).map((t) => ({ time: t, position: "aboveBar", shape: "circle", color: MC.COLORS.taken, size: 0.5 })));
  }
  overview.timeScale().fitContent();
  $("overview").dataset.days = String(OV.day.length);
  $("overview").dataset.embedded = String(inFile);
  const ovIndex = Object.fromEntries(OV.day.map((d, i) => [d, i]));
  const ovHint = (inFile < OV.day.length ? `${OV.day.length} trading days; ● marks the ${inFile} whose bars are in this file.`
    : `${OV.day.length} trading days, all with their bars in this file.`) + " Hover a day for its figures.";
  $("overview-info").textContent = ovHint;
  function dayText(day) {
    const i = ovIndex[day];
    const where = byDay[day] ? "bars in this file: click to open" : `bars not in this file: run again with --chart-day ${day}`;
    return `${day} · O ${fmt(OV.open[i])} H ${fmt(OV.high[i])} L ${fmt(OV.low[i])} C ${fmt(OV.close[i])} · ${OV.candidates[i]} candidates`
      + ` · ${OV.trades[i]} trades · ${fmt(OV.net_pts[i])} pts · ${where}`;
  }
  overview.subscribeCrosshairMove((p) => {
    const day = p.time ? MC.fmtDay(Number(p.time)) : null;
    $("overview-info").textContent = day && day in ovIndex ? dayText(day) : ovHint;
  });
  overview.subscribeClick((p) => {
    const day = p.time ? MC.fmtDay(Number(p.time)) : null;
    if (day && showDay(day)) $("price").scrollIntoView({ block: "center" });
  });

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
  if (first && !showDay(first) && days.length) showDay(days[days.length - 1]);
  document.body.dataset.ready = "1";
})();
