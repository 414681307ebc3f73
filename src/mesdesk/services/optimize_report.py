"""report.html of a sweep: one self-contained page that opens offline (`standalone_page`, as the backtest's).

What it shows, all from the `OptimizeResult`:

- the summary (the JSON of `summary.json`) and the explanatory text;
- the heatmap: an HTML table of the whole-span objective (stop-first) over the first two searched
  parameters with two or more values, the other parameters at the best configuration's values; each
  cell shows its value and is coloured by it; a cell without a value says why (too few trades, or a
  configuration the search did not try);
- in-sample against out-of-sample: every configuration's train-window objective against its
  test-window objective, one colour per fold, the fold's chosen configuration ringed;
- the CSCV logits: a histogram whose bins end at 0, so the bars left of the line are the splits
  PBO counts (logit <= 0), with PBO in the title; or why there are no logits;
- the stitched walk-forward out-of-sample equity per trading day, stop-first (the result) and
  target-first (the bound), drawn by the vendored chart library (zoom, hover);
- the stability table.

The heatmap, the scatter and the histogram are written here as plain HTML and SVG from the numbers
(the chart library draws time series only). matplotlib drew them as PNGs that could not be hovered,
in 0.5-0.8 s of the 1,000-configuration benchmark's 5 s (`benchmarks/optimize.py`), 0.9-1.8 s with
its import; this page takes 0.03-0.06 s. `window.REPORT` holds the numbers of every chart.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mesdesk.research.objectives import objective_values
from mesdesk.research.optimize import OptimizeResult
from mesdesk.research.params import ParamSpec, Value, config_key, format_value
from mesdesk.services.backtest_report import html_table, standalone_page, static_text

FOLD_COLORS = ("#2f81f7", "#e3b341", "#3fb950", "#b48ead", "#f0883e", "#39c5cf", "#f85149", "#d2a8ff")
NOT_ENOUGH = "too few trades"
NOT_TRIED = "not tried"
HOVER_POINTS = 20_000  # above this many scatter points only the folds' choices carry a hover text (page size)
# Above HOVER_POINTS a fold's points that fall on the same spot of this size (SVG units; a point is a disc
# of radius 3, so two on one spot are at most 4.2 units apart and overlap almost wholly) are drawn once:
# 100,000 configurations would otherwise write hundreds of thousands of circles.
SPOT = 3
Coordinate = TypeVar("Coordinate", float, np.ndarray)  # one value or many, mapped alike


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class Heatmap:
    """The whole-span objective over two parameters (rows: `rows.values`, columns: `columns.values`).

    `values[i][j]` is None when the configuration has too few trades or was not tried (`tried[i][j]`).
    """

    rows: ParamSpec
    columns: ParamSpec
    values: list[list[float | None]]
    trades: list[list[int | None]]
    tried: list[list[bool]]
    fixed: dict[str, Value]
    best: tuple[int, int]


def heatmap(result: OptimizeResult) -> Heatmap | str:
    """The heatmap's grid, or why there is none."""
    specs = [s for s in result.spec.params if len(s.values) > 1][:2]
    if len(specs) < 2:
        return "a heatmap needs two searched parameters with two values or more"
    if result.best < 0:
        return "no configuration has enough trades over the whole span: there is no best to centre on"
    a, b = specs
    best = result.assignments[result.best]
    rows = {k: i for i, k in enumerate(result.keys)}
    trades = result.matrix.stop_first.trades
    values: list[list[float | None]] = []
    counts: list[list[int | None]] = []
    tried: list[list[bool]] = []
    for va in a.values:
        v_row: list[float | None] = []
        n_row: list[int | None] = []
        t_row: list[bool] = []
        for vb in b.values:
            r = rows.get(config_key({**best, a.name: va, b.name: vb}))
            x = math.nan if r is None else float(result.in_sample[r])
            v_row.append(None if math.isnan(x) else x)
            n_row.append(None if r is None else int(trades[r].sum()))
            t_row.append(r is not None)
        values.append(v_row)
        counts.append(n_row)
        tried.append(t_row)
    fixed = {k: v for k, v in best.items() if k not in (a.name, b.name)}
    return Heatmap(a, b, values, counts, tried, fixed, (a.values.index(best[a.name]), b.values.index(best[b.name])))


@dataclass(frozen=True)
class FoldPoints:
    """Every configuration's objective on one fold's train days (in sample) and test days (out of sample)."""

    fold: int
    chosen: int  # configuration index, -1: none had enough trades
    in_sample: np.ndarray  # NaN: too few trades in the train window
    out_of_sample: np.ndarray  # NaN: undefined on the test window (no trade, no variance)


def fold_points(result: OptimizeResult) -> list[FoldPoints]:
    """Every configuration's objective on each fold's train days (with the minimum trades) and test days."""
    m, spec = result.matrix, result.spec
    return [
        FoldPoints(
            c.fold.number,
            c.chosen,
            objective_values(m.stop_first, c.fold.train_days, spec.objective, spec.min_trades),
            objective_values(m.stop_first, c.fold.test_days, spec.objective, 0),
        )
        for c in result.walk_forward.choices
    ]


def logit_bins(logits: np.ndarray, target: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Histogram edges, 0 among them, and the count of each bin (edges[i], edges[i + 1]].

    The bins are closed on the right so that a logit of exactly 0 falls left of 0, as PBO counts it.
    """
    lo, hi = float(logits.min()), float(logits.max())
    span = max(hi, 0.0) - min(lo, 0.0)
    width = _nice_step(span / target) if span > 0 else 1.0
    first = min(math.ceil(lo / width) - 1, 0)  # edges are whole multiples of `width`: 0 is one exactly
    last = max(math.ceil(hi / width), 0)
    edges = np.arange(first, last + 1) * width
    bins = np.clip(np.ceil(logits / width).astype(np.int64) - 1 - first, 0, last - first - 1)
    return edges, np.bincount(bins, minlength=last - first)


def report_data(result: OptimizeResult, points: Sequence[FoldPoints] | None = None) -> dict[str, Any]:
    """What `window.REPORT` holds: every chart's numbers (NaN and inf become null in the page).

    `points` is `fold_points(result)` when the caller has it already.
    """
    points = fold_points(result) if points is None else points
    wf = result.walk_forward
    days = result.matrix.days[wf.oos_days]
    epoch_days = days.astype("datetime64[D]").astype(np.int64)
    fold_of = np.empty(wf.oos_days.size, dtype=np.int64)
    pos = 0
    for c in wf.choices:
        fold_of[pos : pos + c.fold.test_days.size] = c.fold.number
        pos += c.fold.test_days.size
    grid = heatmap(result)
    pbo = result.pbo
    return {
        "objective": result.spec.objective,
        "equity": {
            "day": [str(d) for d in days.astype("datetime64[D]")],
            "t": (epoch_days * 86_400).tolist(),
            "fold": fold_of.tolist(),
            "daily_net_pts": wf.oos_daily_net.tolist(),
            "daily_net_pts_target_first": wf.oos_daily_net_target_first.tolist(),
            "stop_first_pts": np.cumsum(wf.oos_daily_net).tolist(),
            "target_first_pts": np.cumsum(wf.oos_daily_net_target_first).tolist(),
        },
        "folds": [
            {
                "fold": c.fold.number,
                "first_test_day": str(result.matrix.days[c.fold.test_start].astype("datetime64[D]")),
                "chosen": None if c.chosen < 0 else result.keys[c.chosen],
                "is_objective": c.is_objective,
                "oos_objective": c.oos_objective,
            }
            for c in wf.choices
        ],
        "heatmap": (
            {"note": grid}
            if isinstance(grid, str)
            else {
                "rows": {"name": grid.rows.name, "values": [format_value(v) for v in grid.rows.values]},
                "columns": {"name": grid.columns.name, "values": [format_value(v) for v in grid.columns.values]},
                "values": grid.values,
                "trades": grid.trades,
                "tried": grid.tried,
                "fixed": {k: format_value(v) for k, v in grid.fixed.items()},
            }
        ),
        "scatter": [
            {"fold": f.fold, "chosen": f.chosen, "in_sample": f.in_sample.tolist(), "oos": f.out_of_sample.tolist()}
            for f in points
        ],
        "logits": (
            {"note": result.pbo_note, "values": []}
            if pbo is None or pbo.logits.size == 0
            else {"pbo": pbo.pbo, "values": pbo.logits.tolist(), "splits": pbo.n_splits, "skipped": pbo.skipped}
        ),
    }


# ---------------------------------------------------------------- the page


def _num(x: float, digits: int = 4) -> str:
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.{digits}f}"


def _cell_colour(x: float, centre: float, ranges: dict[bool, tuple[float, float]]) -> str:
    """Green above `centre`, red below; deeper the further from it among the cells on the same side.

    `ranges[side]` is the smallest and largest finite distance from `centre` on that side (True: at or above).
    """
    lo, hi = ranges.get(x >= centre, (0.0, 0.0))
    d = abs(x - centre)
    frac = 1.0 if math.isinf(d) else (d - lo) / (hi - lo) if hi > lo else 0.5
    rgb = "63,185,80" if x >= centre else "248,81,73"
    return f"rgba({rgb},{0.15 + 0.7 * frac:.3f})"


def heatmap_html(grid: Heatmap | str, objective: str) -> str:
    """The grid as a table: the value in each cell, green above break-even (0, a profit factor 1), red below."""
    if isinstance(grid, str):
        return f"<p class='muted'>({html.escape(grid)})</p>"
    centre = 1.0 if objective == "profit_factor" else 0.0  # a profit factor of 1 breaks even
    ranges: dict[bool, tuple[float, float]] = {}
    for side in (True, False):
        dist = [
            abs(x - centre)
            for row in grid.values
            for x in row
            if x is not None and math.isfinite(x) and (x >= centre) == side
        ]
        if dist:
            ranges[side] = (min(dist), max(dist))
    a, b = grid.rows, grid.columns
    head = "".join(f"<th class='num'>{html.escape(format_value(v))}</th>" for v in b.values)
    body = []
    for i, va in enumerate(a.values):
        cells = []
        for j, vb in enumerate(b.values):
            x, n = grid.values[i][j], grid.trades[i][j]
            where = f"{a.name}={format_value(va)}, {b.name}={format_value(vb)}"
            cls = "num best" if (i, j) == grid.best else "num"
            if x is None:
                why = NOT_ENOUGH if grid.tried[i][j] else NOT_TRIED
                title = f"{where}: {why}" + ("" if n is None else f" ({n} trades)")
                cells.append(f"<td class='{cls} empty' title='{html.escape(title)}'>{why}</td>")
            else:
                title = f"{where}: {objective} {x!r}, {n} trades"
                cells.append(
                    f"<td class='{cls}' style='background:{_cell_colour(x, centre, ranges)}' "
                    f"title='{html.escape(title)}'>{_num(x)}</td>"
                )
        body.append(f"<tr><th class='num'>{html.escape(format_value(va))}</th>{''.join(cells)}</tr>")
    fixed = ", ".join(f"{k}={format_value(v)}" for k, v in grid.fixed.items()) or "none"
    return (
        f"<p class='muted'>Whole-span {html.escape(objective)} (stop-first) of each configuration; the other "
        f"parameters at the best configuration's values ({html.escape(fixed)}); outlined: the best. Green: above "
        f"{centre:g}, red: below, deeper the further from {centre:g} among the cells on the same side. "
        f"“{NOT_ENOUGH}”: fewer than the minimum trades over the whole span; “{NOT_TRIED}”: not evaluated "
        "by the search. Hover a cell for its exact value and trade count.</p>"
        "<div class='mc-scroll'><table class='heat'><thead>"
        f"<tr><th rowspan='2'>{html.escape(a.name)} ↓</th>"
        f"<th colspan='{len(b.values)}'>{html.escape(b.name)} →</th></tr>"
        f"<tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _nice_step(raw: float) -> float:
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw * (1 - 1e-9))


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    step = _nice_step((hi - lo) / n) if hi > lo else 1.0
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 10) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


@dataclass(frozen=True)
class _Frame:
    """A plot area of `width` x `height` SVG units mapping [x0, x1] x [y0, y1] inside its margins."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = 640
    height: int = 360
    left: int = 56
    right: int = 14
    top: int = 32
    bottom: int = 40

    def x(self, v: Coordinate) -> Coordinate:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * (self.width - self.left - self.right)

    def y(self, v: Coordinate) -> Coordinate:
        return self.height - self.bottom - (v - self.y0) / (self.y1 - self.y0) * (self.height - self.top - self.bottom)

    def axes(self, title: str, x_label: str, y_label: str, x_ticks: int = 8, y_ticks: int = 6) -> list[str]:
        """Grid lines with their values, the zero lines, the axis labels and the title."""
        out = []
        bottom, right = self.height - self.bottom, self.width - self.right
        for v in _ticks(self.x0, self.x1, x_ticks):
            out.append(f"<line class='grid' x1='{self.x(v):.1f}' x2='{self.x(v):.1f}' y1='{self.top}' y2='{bottom}'/>")
            out.append(f"<text x='{self.x(v):.1f}' y='{bottom + 14}' text-anchor='middle'>{v:g}</text>")
        for v in _ticks(self.y0, self.y1, y_ticks):
            out.append(f"<line class='grid' x1='{self.left}' x2='{right}' y1='{self.y(v):.1f}' y2='{self.y(v):.1f}'/>")
            out.append(f"<text x='{self.left - 6}' y='{self.y(v) + 3:.1f}' text-anchor='end'>{v:g}</text>")
        if self.x0 <= 0 <= self.x1:
            out.append(f"<line class='zero' x1='{self.x(0):.1f}' x2='{self.x(0):.1f}' y1='{self.top}' y2='{bottom}'/>")
        if self.y0 <= 0 <= self.y1:
            out.append(f"<line class='zero' x1='{self.left}' x2='{right}' y1='{self.y(0):.1f}' y2='{self.y(0):.1f}'/>")
        mid_y = (self.top + bottom) / 2
        out += [
            f"<text class='title' x='{self.width / 2}' y='16' text-anchor='middle'>{html.escape(title)}</text>",
            f"<text class='label' x='{(self.left + right) / 2}' y='{self.height - 6}' text-anchor='middle'>"
            f"{html.escape(x_label)}</text>",
            f"<text class='label' x='14' y='{mid_y}' text-anchor='middle' transform='rotate(-90 14 {mid_y})'>"
            f"{html.escape(y_label)}</text>",
        ]
        return out


def _svg(frame: _Frame, parts: Sequence[str], label: str, element_id: str, points: int) -> str:
    return (
        f"<svg id='{element_id}' class='mc-svg opt-svg' viewBox='0 0 {frame.width} {frame.height}' role='img' "
        f"aria-label='{html.escape(label)}' data-points='{points}'>{''.join(parts)}</svg>"
    )


def _span(values: np.ndarray) -> tuple[float, float]:
    """A range holding 0 and every value, with a 5% margin."""
    lo, hi = min(0.0, float(values.min(initial=0.0))), max(0.0, float(values.max(initial=0.0)))
    pad = (hi - lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def scatter_svg(points: Sequence[FoldPoints], labels: Sequence[str], objective: str) -> str:
    """In-sample (x) against out-of-sample (y) objective per configuration and fold; the fold's choice ringed."""
    if not points:
        return "<p class='muted'>(no walk-forward fold)</p>"
    shown = [np.isfinite(p.in_sample) & np.isfinite(p.out_of_sample) for p in points]
    xs = np.concatenate([p.in_sample[k] for p, k in zip(points, shown, strict=True)])
    ys = np.concatenate([p.out_of_sample[k] for p, k in zip(points, shown, strict=True)])
    frame = _Frame(*_span(xs), *_span(ys))
    parts = frame.axes(
        f"{objective}: in-sample vs out-of-sample per fold (ringed: the fold's choice)",
        f"in-sample {objective} (train window)",
        f"out-of-sample {objective} (next test window)",
    )
    chosen = []
    hover = xs.size <= HOVER_POINTS
    drawn = 0
    for p, keep in zip(points, shown, strict=True):
        colour = FOLD_COLORS[p.fold % len(FOLD_COLORS)]
        parts.append(f"<g fill='{colour}' fill-opacity='0.55' data-fold='{p.fold}'>")
        rows = np.flatnonzero(keep)
        if not hover:
            rows = rows[_one_per_spot(frame, p.in_sample[rows], p.out_of_sample[rows])]
        drawn += rows.size
        for i in rows.tolist():
            x, y = float(p.in_sample[i]), float(p.out_of_sample[i])
            title = f"fold {p.fold} · {labels[i]} · in-sample {x:.4f} · out-of-sample {y:.4f}"
            tip = f"<title>{html.escape(title)}</title>" if hover else ""
            parts.append(f"<circle cx='{frame.x(x):.1f}' cy='{frame.y(y):.1f}' r='3'>{tip}</circle>")
        parts.append("</g>")
        if p.chosen >= 0 and keep[p.chosen]:
            x, y = float(p.in_sample[p.chosen]), float(p.out_of_sample[p.chosen])
            title = f"fold {p.fold} chose {labels[p.chosen]}: in-sample {x:.4f}, out-of-sample {y:.4f}"
            chosen.append(
                f"<g class='chosen' data-fold='{p.fold}'><circle cx='{frame.x(x):.1f}' cy='{frame.y(y):.1f}' r='7' "
                f"fill='{colour}' stroke='#e6e6e6' stroke-width='2'><title>{html.escape(title)}</title></circle></g>"
            )
    left_out = sum(int((~k).sum()) for k in shown)
    legend = " ".join(
        f"<span><i style='background:{FOLD_COLORS[p.fold % len(FOLD_COLORS)]}'></i>fold {p.fold}</span>" for p in points
    )
    note = (
        "Hover a point for its configuration and values."
        if hover
        else (
            f"{xs.size:,} points, drawn once per spot of {SPOT} units in each fold ({drawn:,} circles: the rest "
            "would lie almost wholly under them); only the folds' choices carry their values on hover (the page would "
            "be too large)."
        )
    )
    if left_out:
        note += (
            f" {left_out} of {sum(k.size for k in shown)} points left out: too few trades in the train window "
            "or no value on the test window."
        )
    return (
        _svg(frame, parts + chosen, "in-sample vs out-of-sample", "scatter", int(xs.size))
        + f"<div class='mc-legend row'>{legend}</div><p class='muted'>{html.escape(note)}</p>"
    )


def _one_per_spot(frame: _Frame, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Positions (ascending) of the first point on each SPOT x SPOT square of the plot, the others dropped."""
    col = np.floor(frame.x(np.asarray(xs, dtype=np.float64)) / SPOT).astype(np.int64)
    row = np.floor(frame.y(np.asarray(ys, dtype=np.float64)) / SPOT).astype(np.int64)
    if row.size == 0:
        return np.zeros(0, dtype=np.int64)
    row -= row.min()
    _, first = np.unique(col * (int(row.max()) + 1) + row, return_index=True)
    return np.sort(first)


def logits_svg(result: OptimizeResult) -> str:
    """The CSCV logits as a histogram with PBO in the title, or why there are none."""
    pbo = result.pbo
    if pbo is None or pbo.logits.size == 0:
        return f"<p class='muted' id='logits-note'>(no CSCV logits: {html.escape(result.pbo_note)})</p>"
    edges, counts = logit_bins(pbo.logits)
    frame = _Frame(float(edges[0]), float(edges[-1]), 0.0, float(counts.max()) * 1.08, height=300)
    at_or_below = int((pbo.logits <= 0).sum())
    parts = frame.axes(
        f"CSCV logits: PBO = {pbo.pbo:.2f} ({at_or_below} of {pbo.logits.size} splits at or left of 0)",
        "logit of the in-sample winner's out-of-sample rank",
        "splits",
    )
    base = frame.y(0.0)
    for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True):
        if n == 0:
            continue
        cls = "bar low" if hi <= 0 else "bar"
        title = f"({lo:g}, {hi:g}]: {n} splits"
        parts.append(
            f"<rect class='{cls}' x='{frame.x(lo) + 0.5:.1f}' y='{frame.y(n):.1f}' "
            f"width='{max(frame.x(hi) - frame.x(lo) - 1, 1):.1f}' height='{base - frame.y(n):.1f}'>"
            f"<title>{html.escape(title)}</title></rect>"
        )
    parts.append(f"<line class='pbo' x1='{frame.x(0):.1f}' x2='{frame.x(0):.1f}' y1='{frame.top}' y2='{base:.1f}'/>")
    note = "Bins (a, b]: a logit of exactly 0 counts left of the line, as PBO counts it."
    if pbo.skipped:
        note += f" {pbo.skipped} of {pbo.n_splits} splits left out: no in-sample winner or no out-of-sample value."
    svg = _svg(frame, parts, "CSCV logits", "logits", int(pbo.logits.size))
    return svg + f"<p class='muted'>{html.escape(note)}</p>"


def stability_html(result: OptimizeResult) -> str:
    if not result.stability:
        return "<p class='muted'>(no parameter with two values)</p>"

    def drop(x: float) -> str | None:
        return NOT_ENOUGH if math.isinf(x) else None if math.isnan(x) else f"{x:.4f}"

    frame = pd.DataFrame(
        [
            {
                "parameter": s.param,
                "best value": format_value(s.best_value),
                "neighbours (value: objective)": ", ".join(
                    f"{format_value(v)}: {NOT_ENOUGH if math.isnan(o) else _num(o)}" for v, o in s.neighbours
                ),
                "worst drop": drop(s.worst_drop),
            }
            for s in result.stability
        ]
    )
    return html_table(frame)


def _label(assignment: dict[str, Value]) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={format_value(v)}" for k, v in assignment.items())


def report_html(result: OptimizeResult, summary: dict[str, Any]) -> str:
    """The page: `report_data` as `window.REPORT`, the tables and SVG written here, the equity by the chart library."""
    labels = [_label(a) for a in result.assignments]
    points = fold_points(result)
    body = [
        "<main><header><h1>mesdesk optimize</h1>",
        "<p>The in-sample best is shown only beside its walk-forward out-of-sample result, the Probability of "
        "Backtest Overfitting and the Deflated Sharpe Ratio. Points are net of costs; stop-first fills are the "
        "result, target-first the optimistic bound.</p></header>",
        f"<section><h2>Summary</h2><pre>{html.escape(json.dumps(summary, indent=2, sort_keys=True))}</pre></section>",
        f"<section><h2>Heatmap ({html.escape(result.spec.objective)}, whole span)</h2>",
        heatmap_html(heatmap(result), result.spec.objective),
        "</section><div class='grid2'>",
        "<section><h2>In-sample vs out-of-sample</h2>",
        scatter_svg(points, labels, result.spec.objective),
        "</section><section><h2>CSCV logits</h2>",
        logits_svg(result),
        "</section></div>",
        "<section><h2>Stitched walk-forward out-of-sample equity (net points per trading day)</h2>"
        "<div class='mc-legend row'><span><i class='line' style='background:#2f81f7'></i>stop-first (the result)</span>"
        "<span><i class='line' style='background:#8a96a3'></i>target-first (the optimistic bound)</span>"
        "<span>▲ first test day of a fold</span></div>"
        "<div id='equity' class='chart eq'></div><div class='muted' id='equity-info'></div></section>",
        "<section><h2>Stability (one grid step from the best)</h2>",
        stability_html(result),
        "</section>",
        "</main>",
    ]
    css = static_text("report.css") + "\n" + static_text("optimize-report.css")
    return standalone_page(
        "mesdesk optimize", "\n".join(body), report_data(result, points), static_text("optimize-report.js"), css
    )


def write_report(result: OptimizeResult, summary: dict[str, Any], out: Path) -> tuple[Path, ...]:
    """Write report.html under `out`; returns its path."""
    path = out / "report.html"
    path.write_text(report_html(result, summary), encoding="utf-8")
    return (path,)
