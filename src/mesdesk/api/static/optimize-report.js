// The optimizer's report page: the stitched out-of-sample equity with the shared chart library; the heatmap,
// the scatter and the logit histogram are written into the page by the server (optimize_report.py).
// Times: `t` is the trading day at 00:00 in seconds since 1970; the axis and the hover read the day.
"use strict";

(function () {
  const MC = window.MesCharts;
  const LW = window.LightweightCharts;
  const E = window.REPORT.equity;
  const box = document.getElementById("equity");
  const info = document.getElementById("equity-info");
  const fmt = MC.fmtNum;
  box.dataset.points = String(E.t.length);
  if (!E.t.length) {
    box.classList.remove("chart", "eq");
    box.textContent = "No out-of-sample day: no walk-forward fold fits the data.";
    document.body.dataset.ready = "1";
    return;
  }
  const options = MC.baseOptions(300);
  options.timeScale.timeVisible = false;
  options.timeScale.tickMarkFormatter = (t, type) => (type === 0 ? MC.fmtDay(t).slice(0, 4)
    : type === 1 ? MC.fmtDay(t).slice(0, 7) : MC.fmtDay(t).slice(5));
  options.localization.timeFormatter = (t) => MC.fmtDay(t);
  const chart = LW.createChart(box, options);
  window.reportEquity = chart;
  const stepped = { lineType: LW.LineType.WithSteps, priceLineVisible: false };
  const bound = chart.addSeries(LW.LineSeries, Object.assign({ color: MC.COLORS.muted, lineWidth: 1, lineStyle: 2,
    title: "target-first" }, stepped));
  const result = chart.addSeries(LW.LineSeries, Object.assign({ color: MC.COLORS.taken, lineWidth: 2,
    title: "stop-first" }, stepped));
  bound.setData(E.t.map((t, i) => ({ time: t, value: E.target_first_pts[i] })));
  // empty days before the first (a 25th of the record, 2 at least) leave room for the first fold's label
  const pad = Math.max(2, Math.ceil(E.t.length / 25));
  const room = Array.from({ length: pad }, (_, k) => ({ time: E.t[0] - (pad - k) * 86400 }));
  result.setData(room.concat(E.t.map((t, i) => ({ time: t, value: E.stop_first_pts[i] }))));
  result.createPriceLine({ price: 0, color: "#484f58", lineWidth: 1, lineStyle: 0, axisLabelVisible: false });
  const firsts = E.t.filter((t, i) => i === 0 || E.fold[i] !== E.fold[i - 1]);
  LW.createSeriesMarkers(result, firsts.map((t) => ({ time: t, position: "belowBar", shape: "arrowUp",
    color: MC.COLORS.muted, text: `fold ${E.fold[E.t.indexOf(t)]}`, size: 0.6 })));
  // autoSize gives the pane its width only later (a ResizeObserver): fit the days to each new width
  let width = -1;
  new ResizeObserver(() => {
    if (box.clientWidth !== width) { width = box.clientWidth; requestAnimationFrame(() => chart.timeScale().fitContent()); }
  }).observe(box);

  const folds = Object.fromEntries(window.REPORT.folds.map((f) => [f.fold, f]));
  const last = E.t.length - 1;
  const hint = `${E.t.length} out-of-sample trading days in ${window.REPORT.folds.length} folds: stop-first `
    + `${fmt(E.stop_first_pts[last])} pts, target-first ${fmt(E.target_first_pts[last])} pts. Hover a day for its figures.`;
  info.textContent = hint;
  const index = Object.fromEntries(E.t.map((t, i) => [t, i]));
  chart.subscribeCrosshairMove((p) => {
    const i = p.time === undefined ? undefined : index[Number(p.time)];
    if (i === undefined) { info.textContent = hint; return; }
    const f = folds[E.fold[i]];
    info.textContent = `${E.day[i]} · fold ${E.fold[i]} (${f.chosen || "no choice"}) · day ${fmt(E.daily_net_pts[i])} pts`
      + ` (target-first ${fmt(E.daily_net_pts_target_first[i])}) · running ${fmt(E.stop_first_pts[i])} pts`
      + ` (target-first ${fmt(E.target_first_pts[i])})`;
  });
  document.body.dataset.ready = "1";
})();
