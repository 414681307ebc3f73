"""The backtest's HTML report: summary tables, the equity curve and one day's candles with its trades.

Charts are matplotlib PNG files written beside the HTML and embedded in it (base64), so the report
opens offline with no CDN.
"""

from __future__ import annotations

import base64
import html
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mesdesk.calendar import CT, trading_days

if TYPE_CHECKING:
    from mesdesk.services.backtest import BacktestReport


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def equity_png(trades: pd.DataFrame, path: Path) -> Path:
    """Cumulative net points per closed trade (time on x, in CT)."""
    plt = _plt()
    closed = trades[trades["result"] != "open"]
    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=100)
    if len(closed):
        x = pd.DatetimeIndex(closed["exit_ts"]).tz_convert(CT).tz_localize(None)
        ax.step(x, np.cumsum(closed["pnl_pts"].to_numpy()), where="post", color="#1f5f99")
    ax.axhline(0.0, color="#888", lw=0.8)
    ax.set_ylabel("net points (after costs)")
    ax.set_title("Equity curve (closed trades, CT)")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def pick_chart_day(report: BacktestReport, wanted: date | None) -> date | None:
    """`wanted` when it has bars, else the day with the most trades (None without bars)."""
    days = trading_days(pd.DatetimeIndex(report.bars.index))
    available = {pd.Timestamp(d).date() for d in np.unique(days)}
    if wanted is not None:
        return wanted if wanted in available else None
    if len(report.trades):
        counts = pd.to_datetime(report.trades["trading_day"]).dt.date.value_counts()
        return date.fromisoformat(str(counts.index[0]))
    return min(available) if available else None


def day_png(report: BacktestReport, day: date, path: Path) -> Path:
    """Candles of the day's regular hours (CT) with entries (triangles) and exits (crosses)."""
    plt = _plt()
    bars = report.bars
    wall = pd.DatetimeIndex(bars.index).tz_convert(CT)
    days = trading_days(pd.DatetimeIndex(bars.index))
    minutes = wall.hour * 60 + wall.minute
    mask = (days == np.datetime64(day)) & (minutes >= 8 * 60 + 30) & (minutes < 15 * 60 + 15)
    day_bars = bars[mask]
    x = pd.DatetimeIndex(day_bars.index).tz_convert(CT).tz_localize(None)
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    if len(day_bars):
        width = (x[1] - x[0]) * 0.7 if len(x) > 1 else pd.Timedelta(minutes=1) * 0.7
        o, h, lo, c = (day_bars[k].to_numpy() for k in ("open", "high", "low", "close"))
        up = c >= o
        ax.vlines(x, lo, h, color=np.where(up, "#2e7d32", "#c62828"), lw=0.6)
        ax.bar(
            x,
            np.maximum(np.abs(c - o), 0.05),
            width,
            bottom=np.minimum(o, c),
            color=np.where(up, "#66bb6a", "#ef5350"),
            edgecolor="none",
        )
    t = report.trades
    t = t[pd.to_datetime(t["trading_day"]).dt.date == day] if len(t) else t
    for _, row in t.iterrows():
        long = row["direction"] == "long"
        ax.scatter(
            pd.Timestamp(row["entry_ts"]).tz_convert(CT).tz_localize(None),
            row["entry_price"],
            marker="^" if long else "v",
            color="#1565c0",
            s=60,
            zorder=3,
        )
        if pd.notna(row["exit_ts"]):
            ax.scatter(
                pd.Timestamp(row["exit_ts"]).tz_convert(CT).tz_localize(None),
                row["exit_price"],
                marker="x",
                color="#000" if row["result"] != "win" else "#2e7d32",
                s=60,
                zorder=3,
            )
    ax.set_title(f"{day} regular hours (CT): entries ^ v, exits x")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name)
    return f'<p><a href="{name}"><img alt="{name}" src="data:image/png;base64,{data}"></a></p>'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0, classes="t")


def write_report(report: BacktestReport, out: Path, chart_day: date | None) -> tuple[Path, ...]:
    """Write equity.png, day-<date>.png and report.html; returns the paths written."""
    equity = equity_png(report.trades, out / "equity.png")
    written = [equity]
    day = pick_chart_day(report, chart_day)
    day_path = None
    if day is not None:
        day_path = day_png(report, day, out / f"day-{day.isoformat()}.png")
        written.append(day_path)
    s, o = report.stats, report.optimistic
    summary = pd.DataFrame([{"": "pessimistic (result)", **s.as_dict()}, {"": "optimistic", **o.as_dict()}])
    body = [
        "<h1>mesdesk backtest</h1>",
        f"<p>Bars {html.escape(str(report.first_bar))} to {html.escape(str(report.last_bar))} (UTC, bar open); "
        f"{report.candidates} candidates; {s.trades} trades. Points are net of slippage and commission; "
        "ambiguous bars (stop and target inside one bar) fill the stop in the result and the target in "
        "the optimistic line.</p>",
        _table(summary),
        "<h2>By setup</h2>",
        _table(report.by_setup),
        "<h2>By session</h2>",
        _table(report.by_session),
        "<h2>Equity</h2>",
        _img(equity),
    ]
    if report.decisions is not None:
        body += ["<h2>Decisions</h2>", _table(report.decisions)]
    if report.calibration is not None:
        body += ["<h2>Calibration of stated confidence</h2>", _table(report.calibration)]
    if report.decider_notes:
        body += ["<ul>", *(f"<li>{html.escape(line)}</li>" for line in report.decider_notes), "</ul>"]
    if day_path is not None:
        body += [f"<h2>{day}</h2>", _img(day_path)]
    body += ["<h2>Trades</h2>", _table(report.trades)]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>mesdesk backtest</title><style>"
        "body{font-family:sans-serif;margin:2em}table.t{border-collapse:collapse;font-size:12px}"
        "table.t td,table.t th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    written.append(html_path)
    return tuple(written)
