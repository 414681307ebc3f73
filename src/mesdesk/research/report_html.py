"""report.html of a sweep: heatmap, in-sample vs out-of-sample, logits, stitched OOS equity, stability.

Charts are matplotlib PNGs embedded as base64 (the page opens offline). matplotlib is imported only
when a report is written.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.research.objectives import objective_values
from mesdesk.research.optimize import OptimizeResult
from mesdesk.research.params import format_value


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<p><img alt="chart" src="data:image/png;base64,{data}"></p>'


def _heatmap(result: OptimizeResult) -> str:
    """Whole-span objective over the first two searched parameters with 2+ values (others at the best)."""
    specs = [s for s in result.spec.params if len(s.values) > 1][:2]
    if len(specs) < 2 or result.best < 0:
        return "<p>(a heatmap needs two searched parameters)</p>"
    a, b = specs
    best = result.assignments[result.best]
    rows = {k: i for i, k in enumerate(result.keys)}
    from mesdesk.research.params import config_key

    grid = np.full((len(a.values), len(b.values)), np.nan)
    for i, va in enumerate(a.values):
        for j, vb in enumerate(b.values):
            r = rows.get(config_key({**best, a.name: va, b.name: vb}))
            if r is not None:
                grid[i, j] = result.in_sample[r]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    im = ax.imshow(np.where(np.isfinite(grid), grid, np.nan), cmap="RdYlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(len(b.values)), [format_value(v) for v in b.values])
    ax.set_yticks(range(len(a.values)), [format_value(v) for v in a.values])
    ax.set_xlabel(b.name)
    ax.set_ylabel(a.name)
    ax.set_title(f"in-sample {result.spec.objective} (blank: not enough trades)")
    fig.colorbar(im)
    return _png(fig)


def _scatter(result: OptimizeResult) -> str:
    """Each configuration's train objective against its test objective, every fold."""
    m = result.matrix
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for c in result.walk_forward.choices:
        is_ = objective_values(m.stop_first, c.fold.train_days, result.spec.objective, result.spec.min_trades)
        oos = objective_values(m.stop_first, c.fold.test_days, result.spec.objective, 0)
        ax.scatter(is_, oos, s=8, alpha=0.5)
        if c.chosen >= 0:
            ax.scatter([is_[c.chosen]], [oos[c.chosen]], marker="*", s=120, color="k")
    ax.axhline(0, color="#888", lw=0.8)
    ax.set_xlabel("in-sample (train window)")
    ax.set_ylabel("out-of-sample (next test window)")
    ax.set_title("in-sample vs out-of-sample per fold (star: the fold's choice)")
    return _png(fig)


def _logits(result: OptimizeResult) -> str:
    if result.pbo is None or result.pbo.logits.size == 0:
        return f"<p>(no CSCV logits: {html.escape(result.pbo_note)})</p>"
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(result.pbo.logits, bins=30, color="#1f5f99")
    ax.axvline(0, color="#c62828")
    ax.set_xlabel("logit of the in-sample winner's out-of-sample rank")
    ax.set_title(f"CSCV logits: PBO = {result.pbo.pbo:.2f} (share at or left of 0)")
    return _png(fig)


def _equity(result: OptimizeResult) -> str:
    wf = result.walk_forward
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    x = pd.to_datetime(result.matrix.days[wf.oos_days])
    ax.step(x, np.cumsum(wf.oos_daily_net), where="post", label="stop-first (result)")
    ax.step(x, np.cumsum(wf.oos_daily_net_target_first), where="post", label="target-first (bound)", alpha=0.6)
    ax.axhline(0, color="#888", lw=0.8)
    ax.set_ylabel("net points")
    ax.set_title("stitched walk-forward out-of-sample equity (trading days)")
    ax.legend()
    fig.autofmt_xdate()
    return _png(fig)


def write_report(result: OptimizeResult, summary: dict[str, Any], out: Path) -> tuple[Path, ...]:
    """Write report.html under `out`; returns its path."""
    stab = pd.DataFrame(
        [
            {
                "parameter": s.param,
                "best value": format_value(s.best_value),
                "neighbours (value: objective)": ", ".join(f"{format_value(v)}: {o:.4f}" for v, o in s.neighbours),
                "worst drop": s.worst_drop,
            }
            for s in result.stability
        ]
    )
    body = [
        "<h1>mesdesk optimize</h1>",
        "<p>The in-sample best is shown only beside its walk-forward out-of-sample result, the Probability of "
        "Backtest Overfitting and the Deflated Sharpe Ratio. Points are net of costs; stop-first fills are the "
        "result, target-first the optimistic bound.</p>",
        f"<pre>{html.escape(json.dumps(summary, indent=2, sort_keys=True))}</pre>",
        "<h2>Heatmap</h2>",
        _heatmap(result),
        "<h2>In-sample vs out-of-sample</h2>",
        _scatter(result),
        "<h2>CSCV logits</h2>",
        _logits(result),
        "<h2>Stitched out-of-sample equity</h2>",
        _equity(result),
        "<h2>Stability (one grid step from the best)</h2>",
        stab.to_html(index=False, border=0) if len(stab) else "<p>(no parameter with two values)</p>",
    ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>mesdesk optimize</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return (path,)
