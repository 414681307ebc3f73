// mesdesk page components, shared by the dashboard and the HTML reports (backtest, optimizer).
// Needs the vendored lightweight-charts (window.LightweightCharts). No network: everything is drawn here.
// Times: every `t` is the display zone's wall clock (Central Time) in seconds since 1970, computed by the
// server, so the axis and the tooltips read CT on both sides of a DST change; format them with UTC getters.
"use strict";

(function (global) {
  const LW = global.LightweightCharts;
  const COLORS = {
    up: "#26a69a", down: "#ef5350", ema: "#f0b429", vwap: "#b48ead", orb: "#5c7cfa", grid: "#1e2730",
    text: "#c9d1d9", muted: "#8a96a3", bg: "#19212a", target: "#3fb950", stop: "#f85149", entry: "#d0d7de",
    taken: "#2f81f7", skipped: "#8a96a3", refused: "#e3b341", below_prefilter: "#484f58",
  };
  const KIND_LABEL = { taken: "taken", skipped: "skipped", refused: "refused", below_prefilter: "below prefilter" };

  const pad = (n) => String(n).padStart(2, "0");
  function wallDate(t) { return new Date(t * 1000); }
  function fmtTime(t, seconds) {
    if (t === null || t === undefined) return "–";
    const d = wallDate(t);
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${seconds ? ":" + pad(d.getUTCSeconds()) : ""}`;
  }
  function fmtDay(t) {
    const d = wallDate(t);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  }
  function fmtDateTime(t) { return t === null || t === undefined ? "–" : `${fmtDay(t)} ${fmtTime(t)}`; }
  function fmtNum(v, digits = 2) {
    if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) return "–";
    return typeof v === "number" ? v.toFixed(digits) : String(v);
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else if (k === "html") node.innerHTML = v; else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }

  function baseOptions(height) {
    return {
      height,
      autoSize: true,
      layout: { background: { color: COLORS.bg }, textColor: COLORS.text, fontSize: 11, attributionLogo: true },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: "#2d3742" },
      timeScale: {
        borderColor: "#2d3742", timeVisible: true, secondsVisible: false,
        tickMarkFormatter: (t, type) => (type <= 2 ? fmtDay(t).slice(5) : fmtTime(t)),
      },
      localization: { timeFormatter: (t) => `${fmtDateTime(t)} CT`, priceFormatter: (p) => p.toFixed(2) },
      crosshair: { mode: LW.CrosshairMode.Normal },
    };
  }

  // Snap a wall time to the open of its bar on a timeframe of `span` seconds (bins align with 17:00 CT).
  const snap = (t, span) => t - (((t % span) + span) % span);

  function lineData(points) {
    // points: [{time, value|null}] sorted; nulls become whitespace so lines break; duplicate times keep the last.
    const out = [];
    points.forEach((p) => {
      const item = p.value === null || p.value === undefined ? { time: p.time } : { time: p.time, value: p.value };
      if (out.length && out[out.length - 1].time === p.time) out[out.length - 1] = item;
      else if (!out.length || out[out.length - 1].time < p.time) out.push(item);
    });
    return out;
  }

  // A candle chart of one trading day: EMA20, VWAP, opening range, candidate markers with journal tooltips,
  // entries/exits, each trade's stop path and target, and the working bracket as price lines.
  function candleChart(container, options) {
    // vwap: false on multi-day charts (a session VWAP has no meaning across sessions and would join them)
    const opts = Object.assign({ height: 460, span: 60, tooltip: null, vwap: true }, options || {});
    const chart = LW.createChart(container, baseOptions(opts.height));
    const candles = chart.addSeries(LW.CandlestickSeries, {
      upColor: COLORS.up, downColor: COLORS.down, borderVisible: false, wickUpColor: COLORS.up, wickDownColor: COLORS.down,
    });
    const thin = { lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false };
    const ema = chart.addSeries(LW.LineSeries, Object.assign({ color: COLORS.ema, title: "EMA20" }, thin));
    const vwap = chart.addSeries(LW.LineSeries, Object.assign({ color: COLORS.vwap, title: "VWAP" }, thin));
    const orHigh = chart.addSeries(LW.LineSeries, Object.assign({ color: COLORS.orb, lineStyle: 2, title: "OR high" }, thin));
    const orLow = chart.addSeries(LW.LineSeries, Object.assign({ color: COLORS.orb, lineStyle: 2, title: "OR low" }, thin));
    const stepped = Object.assign({}, thin, { lineType: LW.LineType.WithSteps, lineWidth: 2 });
    let tradeSeries = []; // one stop and one target line per trade: a line never joins two trades
    const markers = LW.createSeriesMarkers(candles, []);
    let bars = [], candidates = [], trades = [], position = null, openingRange = null, priceLines = [];
    let span = opts.span;

    const tip = opts.tooltip || el("div", { class: "mc-tooltip" });
    if (!opts.tooltip) { container.style.position = "relative"; container.appendChild(tip); }
    tip.hidden = true;

    function setSpan(seconds) { span = seconds; }

    function drawIndicators() {
      ema.setData(lineData(bars.map((b) => ({ time: b.t, value: b.ema20 }))));
      vwap.setData(opts.vwap ? lineData(bars.map((b) => ({ time: b.t, value: b.vwap }))) : []);
      if (openingRange && bars.length) {
        const from = snap(openingRange.end_t, span);
        const pts = bars.filter((b) => b.t >= from);
        orHigh.setData(pts.map((b) => ({ time: b.t, value: openingRange.high })));
        orLow.setData(pts.map((b) => ({ time: b.t, value: openingRange.low })));
      } else { orHigh.setData([]); orLow.setData([]); }
    }

    function drawTrades() {
      const have = new Set(bars.map((b) => b.t));
      const onChart = (t) => have.has(snap(t, span));
      tradeSeries.forEach((x) => chart.removeSeries(x));
      tradeSeries = [];
      const ms = [];
      const list = trades.slice();
      if (position && position.entry_t) {
        list.push({ open: true, direction: position.direction, entry_t: position.entry_t, entry_price: position.entry_price,
          exit_t: null, setup: position.setup, target: position.target,
          stops: [{ t: position.entry_t, stop: position.stop }] });
      }
      list.forEach((tr, i) => {
        if (!onChart(tr.entry_t)) return;
        const long = tr.direction === "long";
        const eT = snap(tr.entry_t, span);
        ms.push({ id: `entry-${i}`, time: eT, position: long ? "belowBar" : "aboveBar", shape: long ? "arrowUp" : "arrowDown",
          color: COLORS.taken, text: `${long ? "buy" : "sell"} ${fmtNum(tr.entry_price)}`, size: 1.4 });
        if (tr.exit_t !== null && tr.exit_t !== undefined && onChart(tr.exit_t)) {
          const win = (tr.pnl_pts || 0) > 0;
          ms.push({ id: `exit-${i}`, time: snap(tr.exit_t, span), position: long ? "aboveBar" : "belowBar", shape: "square",
            color: win ? COLORS.target : COLORS.stop, text: `${tr.exit_reason} ${fmtNum(tr.exit_price)} (${fmtNum(tr.pnl_pts)})`, size: 0.9 });
        }
        const end = tr.exit_t !== null && tr.exit_t !== undefined ? snap(tr.exit_t, span)
          : (bars.length ? bars[bars.length - 1].t : eT);
        const stops = (tr.stops || []).map((x) => ({ time: Math.min(Math.max(snap(x.t, span), eT), end), value: x.stop }));
        if (stops.length) stops.push({ time: end, value: stops[stops.length - 1].value });
        const stopSeries = chart.addSeries(LW.LineSeries, Object.assign({ color: COLORS.stop }, stepped));
        stopSeries.setData(lineData(stops));
        const targetSeries = chart.addSeries(LW.LineSeries, Object.assign({ color: COLORS.target, lineStyle: 1 }, stepped));
        targetSeries.setData(tr.target === null || tr.target === undefined ? [] : lineData([{ time: eT, value: tr.target }, { time: end, value: tr.target }]));
        tradeSeries.push(stopSeries, targetSeries);
      });
      candidates.forEach((c, i) => {
        if (!onChart(c.t)) return;
        ms.push({ id: `cand-${i}`, time: snap(c.t, span), position: c.direction === "long" ? "belowBar" : "aboveBar",
          shape: "circle", color: COLORS[c.kind] || COLORS.muted, size: 0.6 });
      });
      ms.sort((a, b) => a.time - b.time);
      markers.setMarkers(ms);
      container.dataset.tradeMarkers = String(ms.filter((m) => m.id.startsWith("entry-") && !list[+m.id.slice(6)].open).length);
      container.dataset.candidateMarkers = String(ms.filter((m) => m.id.startsWith("cand-")).length);
      drawBracket();
    }

    function drawBracket() {
      priceLines.forEach((p) => candles.removePriceLine(p));
      priceLines = [];
      if (!position) return;
      const stopTitle = position.trailing ? "stop (trailing)" : position.breakeven ? "stop (breakeven)" : "stop";
      priceLines.push(candles.createPriceLine({ price: position.entry_price, color: COLORS.entry, lineStyle: 2, lineWidth: 1, title: "entry" }));
      priceLines.push(candles.createPriceLine({ price: position.target, color: COLORS.target, lineWidth: 2, title: "target" }));
      priceLines.push(candles.createPriceLine({ price: position.stop, color: COLORS.stop, lineWidth: 2, title: stopTitle }));
    }

    function rowsAt(t) {
      const c = candidates.filter((x) => snap(x.t, span) === t);
      const tr = trades.filter((x) => snap(x.entry_t, span) === t || (x.exit_t !== null && snap(x.exit_t, span) === t));
      return { c, tr };
    }

    chart.subscribeCrosshairMove((param) => {
      if (!param.time || !param.point) { tip.hidden = true; return; }
      const t = Number(param.time);
      const bar = param.seriesData.get(candles);
      const { c, tr } = rowsAt(t);
      let html = `<div class="mc-tip-head">${fmtDateTime(t)} CT</div>`;
      if (bar) html += `<div>O ${fmtNum(bar.open)} H ${fmtNum(bar.high)} L ${fmtNum(bar.low)} C ${fmtNum(bar.close)}</div>`;
      c.forEach((x) => {
        html += `<div class="mc-tip-row"><b class="k-${x.kind}">${esc(KIND_LABEL[x.kind] || x.kind)}</b> ${esc(x.setup)} ${esc(x.direction)}`
          + ` · score ${fmtNum(x.prefilter_score, 1)} · decision ${esc(x.decision)}${x.decision_source ? " (" + esc(x.decision_source) + ")" : ""}`
          + ` · gate ${esc(x.gate || "–")}${x.reason ? "<br><i>" + esc(x.reason) + "</i>" : ""}</div>`;
      });
      tr.forEach((x) => {
        html += `<div class="mc-tip-row"><b>trade</b> ${esc(x.direction)} ${esc(x.setup)} in ${fmtNum(x.entry_price)} ${fmtTime(x.entry_t)}`
          + ` → ${esc(x.exit_reason)} ${fmtNum(x.exit_price)} ${fmtTime(x.exit_t)} CT · ${fmtNum(x.pnl_pts)} pts</div>`;
      });
      tip.innerHTML = html;
      tip.hidden = false;
      const w = container.clientWidth;
      tip.style.left = `${Math.min(param.point.x + 14, Math.max(0, w - 360))}px`;
      tip.style.top = `${Math.max(0, param.point.y - 10)}px`;
    });

    return {
      chart, candles,
      setSpan,
      setBars(list) { bars = list.slice(); candles.setData(bars.map(toCandle)); drawIndicators(); drawTrades(); },
      updateBars(list) {
        list.forEach((b) => {
          if (bars.length && bars[bars.length - 1].t === b.t) bars[bars.length - 1] = b;
          else if (!bars.length || bars[bars.length - 1].t < b.t) bars.push(b);
          else return;
          candles.update(toCandle(b));
        });
        drawIndicators();
        drawTrades();
      },
      setOpeningRange(or) { openingRange = or; drawIndicators(); },
      setCandidates(list) { candidates = list.slice(); drawTrades(); },
      setTrades(list, pos) { trades = list.slice(); position = pos || null; drawTrades(); },
      bars: () => bars,
      coordinateOf(t) { return chart.timeScale().timeToCoordinate(snap(t, span)); },
      priceCoordinate(p) { return candles.priceToCoordinate(p); },
      fit() { chart.timeScale().fitContent(); },
      showLast(n) {
        if (bars.length > n) chart.timeScale().setVisibleLogicalRange({ from: bars.length - n, to: bars.length + 3 });
        else chart.timeScale().fitContent();
      },
      focus(from, to) { chart.timeScale().setVisibleRange({ from: snap(from, span), to: snap(to, span) }); },
    };
  }

  function toCandle(b) { return { time: b.t, open: b.open, high: b.high, low: b.low, close: b.close }; }

  // Equity (net points, top pane) and drawdown from the running peak (bottom pane), on a CT time axis.
  function equityChart(container, options) {
    const opts = Object.assign({ height: 260 }, options || {});
    const chart = LW.createChart(container, baseOptions(opts.height));
    const eq = chart.addSeries(LW.BaselineSeries, {
      baseValue: { type: "price", price: 0 }, lineWidth: 2, title: "equity pts", lineType: LW.LineType.WithSteps,
      topLineColor: COLORS.target, bottomLineColor: COLORS.stop,
      topFillColor1: "rgba(63,185,80,0.25)", topFillColor2: "rgba(63,185,80,0.02)",
      bottomFillColor1: "rgba(248,81,73,0.02)", bottomFillColor2: "rgba(248,81,73,0.25)",
    });
    const dd = chart.addSeries(LW.AreaSeries, {
      lineColor: COLORS.stop, topColor: "rgba(248,81,73,0.05)", bottomColor: "rgba(248,81,73,0.4)", lineWidth: 1,
      title: "drawdown pts", invertFilledArea: true, lineType: LW.LineType.WithSteps,
    }, 1);
    const panes = chart.panes();
    if (panes[1]) panes[1].setHeight(Math.round(opts.height * 0.3));
    return {
      chart,
      setData(points) {
        // several exits may share a time: keep one point per time (the last), which is the equity after it
        const e = lineData(points.map((p) => ({ time: p.t, value: p.equity_pts })));
        const d = lineData(points.map((p) => ({ time: p.t, value: p.drawdown_pts })));
        eq.setData(e); dd.setData(d);
        container.dataset.points = String(points.length);
        chart.timeScale().fitContent();
        requestAnimationFrame(() => chart.timeScale().fitContent()); // again once the pane has its width
      },
    };
  }

  // A table that sorts (click a header), filters (a text box matching any cell) and scrolls inside the page.
  // columns: [{key, label, fmt?(v,row), cls?(v,row), num?}]
  function dataTable(container, columns, rows, options) {
    const opts = Object.assign({ onClick: null, filter: true, maxHeight: "420px", rowClass: null }, options || {});
    container.classList.add("mc-table");
    let sortKey = null, sortDir = 1, query = "", data = rows.slice(), selected = null;
    const input = el("input", { type: "search", placeholder: "filter (e.g. tp, short, ORB)", class: "mc-filter" });
    const count = el("span", { class: "mc-count" });
    const table = el("table");
    const thead = el("thead");
    const tbody = el("tbody");
    const headRow = el("tr");
    columns.forEach((c) => {
      const th = el("th", { text: c.label, "data-key": c.key });
      if (c.num) th.classList.add("num");
      th.addEventListener("click", () => { sortDir = sortKey === c.key ? -sortDir : 1; sortKey = c.key; render(); });
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    table.appendChild(thead); table.appendChild(tbody);
    const wrap = el("div", { class: "mc-scroll" }, [table]);
    wrap.style.maxHeight = opts.maxHeight;
    if (opts.filter) container.appendChild(el("div", { class: "mc-tools" }, [input, count]));
    container.appendChild(wrap);
    input.addEventListener("input", () => { query = input.value.trim().toLowerCase(); render(); });
    const text = (c, r) => (c.fmt ? c.fmt(r[c.key], r) : fmtNum(r[c.key]));
    function render() {
      let list = data;
      if (query) list = list.filter((r) => columns.some((c) => String(text(c, r)).toLowerCase().includes(query)));
      if (sortKey) {
        list = list.slice().sort((a, b) => {
          const x = a[sortKey], y = b[sortKey];
          if (x === y) return 0;
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          return (x < y ? -1 : 1) * sortDir;
        });
      }
      headRow.querySelectorAll("th").forEach((th) => {
        th.dataset.sort = th.dataset.key === sortKey ? (sortDir > 0 ? "asc" : "desc") : "";
      });
      tbody.replaceChildren(...list.map((r) => {
        const tr = el("tr");
        if (opts.rowClass) tr.className = opts.rowClass(r);
        if (r === selected) tr.classList.add("selected");
        columns.forEach((c) => {
          const td = el("td", { text: text(c, r) });
          if (c.num) td.classList.add("num");
          if (c.cls) { const k = c.cls(r[c.key], r); if (k) td.classList.add(k); }
          tr.appendChild(td);
        });
        if (opts.onClick) { tr.classList.add("clickable"); tr.addEventListener("click", () => { selected = r; render(); opts.onClick(r); }); }
        return tr;
      }));
      count.textContent = `${list.length} of ${data.length}`;
    }
    render();
    return { setRows(list) { data = list.slice(); render(); }, select(r) { selected = r; render(); } };
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs) {
    const n = document.createElementNS(SVG, tag);
    Object.entries(attrs).forEach(([k, v]) => n.setAttribute(k, String(v)));
    return n;
  }
  function niceTicks(lo, hi, n) {
    const span = hi - lo || 1;
    const step0 = span / n;
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
    return out;
  }

  // MAE (x) against MFE (y) per trade, points; colour by result; axes with values.
  function scatter(container, points, options) {
    const opts = Object.assign({ width: 520, height: 320, xLabel: "MAE (pts)", yLabel: "MFE (pts)" }, options || {});
    const W = opts.width, H = opts.height, L = 48, B = 36, T = 12, R = 12;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "mc-svg", role: "img", "aria-label": "MAE/MFE scatter" });
    const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
    const x0 = Math.min(0, ...xs), x1 = Math.max(0, ...xs), y0 = Math.min(0, ...ys), y1 = Math.max(0, ...ys);
    const sx = (v) => L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R);
    const sy = (v) => H - B - ((v - y0) / (y1 - y0 || 1)) * (H - B - T);
    niceTicks(x0, x1, 6).forEach((v) => {
      svg.appendChild(svgEl("line", { x1: sx(v), x2: sx(v), y1: T, y2: H - B, class: "grid" }));
      const tx = svgEl("text", { x: sx(v), y: H - B + 14, "text-anchor": "middle" }); tx.textContent = fmtNum(v, 2); svg.appendChild(tx);
    });
    niceTicks(y0, y1, 5).forEach((v) => {
      svg.appendChild(svgEl("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), class: "grid" }));
      const ty = svgEl("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }); ty.textContent = fmtNum(v, 2); svg.appendChild(ty);
    });
    const xl = svgEl("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "label" }); xl.textContent = opts.xLabel; svg.appendChild(xl);
    const yl = svgEl("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "label", transform: `rotate(-90 12 ${(T + H - B) / 2})` });
    yl.textContent = opts.yLabel; svg.appendChild(yl);
    points.forEach((p) => {
      const c = svgEl("circle", { cx: sx(p.x), cy: sy(p.y), r: 4, class: `pt ${p.cls || ""}` });
      const title = svgEl("title", {}); title.textContent = p.title || ""; c.appendChild(title);
      svg.appendChild(c);
    });
    container.replaceChildren(svg);
    container.dataset.points = String(points.length);
  }

  // Horizontal bars of net points per group with the trade count: "P&L by setup/session/hour/weekday".
  function barList(container, items) {
    const max = Math.max(1e-9, ...items.map((i) => Math.abs(i.value)));
    container.replaceChildren(...items.map((i) => {
      const row = el("div", { class: "mc-bar" });
      row.appendChild(el("span", { class: "mc-bar-label", text: i.label }));
      const track = el("span", { class: "mc-bar-track" });
      const fill = el("span", { class: `mc-bar-fill ${i.value >= 0 ? "pos" : "neg"}` });
      fill.style.width = `${(Math.abs(i.value) / max) * 50}%`;
      fill.style[i.value >= 0 ? "left" : "right"] = "50%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", { class: "mc-bar-value", text: `${fmtNum(i.value)} pts · ${i.count} tr` }));
      return row;
    }));
  }

  global.MesCharts = { COLORS, KIND_LABEL, fmtTime, fmtDay, fmtDateTime, fmtNum, esc, el, snap, lineData,
    baseOptions, candleChart, equityChart, dataTable, scatter, barList };
})(window);
