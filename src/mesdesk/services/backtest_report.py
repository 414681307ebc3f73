"""The backtest's HTML report: ONE self-contained file that opens offline and lets a trader walk through it.

`report.html` inlines the vendored chart library, the shared page components (the dashboard's
`mesdesk-charts.js`/`.css`) and the run's data as JSON: every trading day selectable with its candles,
EMA20, VWAP, candidates and trades; a trades table that sorts and filters; a click on a trade shows its
path (entry, each stop move, exit); equity and drawdown; the MAE/MFE scatter; P&L by setup, session,
hour and weekday; the stop-first result beside the target-first bound. Times on the page are Central
Time (`TIMEZONE`), labelled CT; the CSV and Parquet files keep UTC.
`standalone_page` is the reusable part: any report (the optimizer's too) passes its body, data and script.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mesdesk.calendar import CT
from mesdesk.engine.config import BracketConfig, ExecutionConfig
from mesdesk.pathbars import PathBars
from mesdesk.services import chart
from mesdesk.timeframes import Timeframe

if TYPE_CHECKING:
    from mesdesk.services.backtest import BacktestReport

STATIC = files("mesdesk") / "api" / "static"
VENDOR_JS = "vendor/lightweight-charts.standalone.production.js"
COMPONENT_JS = "mesdesk-charts.js"
COMPONENT_CSS = "mesdesk-charts.css"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    # Inside <script>, only "</" can end the element early; "<\/" means the same to JavaScript and JSON.
    return text.replace("</", "<\\/")


def _clean(value: Any) -> Any:
    """JSON-ready: NaN/NaT/inf -> None, numpy scalars -> Python, timestamps -> ISO UTC."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return None if math.isnan(x) or math.isinf(x) else x
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else chart.iso_utc(pd.Timestamp(value).to_pydatetime())
    return value


def standalone_page(title: str, body: str, data: Mapping[str, Any], script: str, css: str = "") -> str:
    """One HTML file with the chart library, the shared components, `data` (as `window.REPORT`) and `script`.

    Nothing is fetched when it opens: no CDN, no file beside it.
    """
    payload = json.dumps(_clean(data), separators=(",", ":"), allow_nan=False)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{_static(COMPONENT_CSS)}\n{css}</style></head><body>"
        f"{body}"
        f"<script>{_script_safe(_static(VENDOR_JS))}</script>"
        f"<script>{_script_safe(_static(COMPONENT_JS))}</script>"
        f"<script>window.REPORT = {_script_safe(payload)};</script>"
        f"<script>{_script_safe(script)}</script>"
        "</body></html>"
    )


# ---------------------------------------------------------------- the data


def _ts(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def _float(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def day_payload(bars: pd.DataFrame, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Each trading day's bars (the run's timeframe) with EMA20 and VWAP, as compact column arrays."""
    span = chart.base_span(bars)
    tf = Timeframe.M5 if span >= pd.Timedelta(minutes=5) else Timeframe.M1
    frame = chart.with_indicators(bars, tf)
    out = []
    for day in chart.days_of(bars):
        rows = chart.bar_records(chart.day_bars(frame, day), tz)
        if not rows:
            continue
        rng = chart.opening_range(bars, day)
        if rng is not None:
            rng["end_t"] = chart.wall_of(datetime.fromisoformat(rng["end_ts"].replace("Z", "+00:00")), tz)
        out.append(
            {
                "day": day.isoformat(),
                "weekday": WEEKDAYS[day.weekday()],
                "span_s": int(span.total_seconds()),
                "bars": {k: [r[k] for r in rows] for k in ("t", "ts", "open", "high", "low", "close", "ema20", "vwap")},
                "opening_range": rng,
            }
        )
    return out


def candidate_payload(journal: pd.DataFrame, span: timedelta, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Every journal row as a marker record (kind: taken, skipped, refused, below prefilter)."""
    out = []
    for row in journal.to_dict("records"):
        ts = _ts(row.get("ts"))
        if ts is None:
            continue
        traded = _ts(row.get("entry_ts")) is not None
        rec = chart.candidate_record(
            ts=ts,
            span=span,
            tz=tz,
            setup=str(row.get("setup", "")),
            direction=str(row.get("direction", "")),
            ref_entry=float(row.get("ref_entry", math.nan)),
            score=_float(row.get("prefilter_score")),
            passed_prefilter=bool(row.get("passed_prefilter", True)),
            decision=str(row.get("decision", "")),
            source=str(row.get("decision_source", "") or ""),
            confidence=_float(row.get("confidence")),
            reason=str(row.get("reason", "") or ""),
            gate=str(row.get("gate", "") or ""),
            traded=traded,
            pnl_pts=_float(row.get("pnl_pts")) if traded else None,
        )
        rec["day"] = pd.Timestamp(row["trading_day"]).date().isoformat()
        out.append(rec)
    return out


def trade_payload(trades: pd.DataFrame, bars: pd.DataFrame, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Trades with CT times, the day, the entry hour (CT) and the stop path replayed by the one bracket walk."""
    span = chart.base_span(bars)
    path = PathBars.from_frame(bars, span)
    bracket, execution = BracketConfig(), ExecutionConfig()
    out = []
    for i, row in enumerate(trades.to_dict("records")):
        entry_ts, exit_ts = _ts(row["entry_ts"]), _ts(row.get("exit_ts"))
        if entry_ts is None:
            continue
        sign = 1 if row["direction"] == "long" else -1
        entry = float(row["entry_price"])
        points = chart.stop_path(
            path,
            direction=sign,
            entry_ts=entry_ts,
            entry_price=entry,
            exit_ts=exit_ts,
            bracket=bracket,
            execution=execution,
        )
        rec = chart.trade_record(
            tz=tz,
            span=span.to_pytimedelta(),
            setup=str(row["setup"]),
            direction=str(row["direction"]),
            session=str(row.get("session", "")),
            entry_ts=entry_ts,
            exit_ts=exit_ts,
            entry_price=entry,
            exit_price=_float(row.get("exit_price")),
            exit_reason=str(row.get("exit_reason", "") or ""),
            pnl_pts=_float(row.get("pnl_pts")),
            result=str(row.get("result", "")),
            score=_float(row.get("prefilter_score")),
            confidence=_float(row.get("confidence")),
            mae=_float(row.get("mae")),
            mfe=_float(row.get("mfe")),
            ambiguous=bool(row.get("ambiguous", False)),
            stops=chart.stop_records(points, tz),
            target=entry + sign * bracket.tp_pts,
        )
        day = pd.Timestamp(row["trading_day"]).date()
        rec.update(id=i + 1, day=day.isoformat(), weekday=WEEKDAYS[day.weekday()], hour=entry_ts.astimezone(tz).hour)
        out.append(rec)
    return out


def group_pnl(
    trades: Sequence[Mapping[str, Any]], key: str, order: Iterable[Any] | None = None
) -> list[dict[str, Any]]:
    """Net points and trade count per value of `key` (closed trades)."""
    sums: dict[Any, list[float]] = {}
    for t in trades:
        if t["pnl_pts"] is None:
            continue
        sums.setdefault(t[key], []).append(float(t["pnl_pts"]))
    keys = [k for k in order if k in sums] if order is not None else sorted(sums)
    return [
        {"label": str(k), "value": round(sum(sums[k]), 4), "count": len(sums[k]), "win_rate": _win_rate(sums[k])}
        for k in keys
    ]


def _win_rate(values: list[float]) -> float:
    return round(100.0 * sum(v > 0 for v in values) / len(values), 1)


def report_data(report: BacktestReport, tz: ZoneInfo = CT) -> dict[str, Any]:
    """Everything the page draws, JSON-ready (NaN -> null)."""
    span = chart.base_span(report.bars)
    trades = trade_payload(report.trades, report.bars, tz)
    closed = [(datetime.fromisoformat(t["exit_ts"].replace("Z", "+00:00")), t) for t in trades if t["exit_ts"]]
    closed.sort(key=lambda x: x[0])
    equity, running = [], 0.0
    for ts, t in closed:
        running += t["pnl_pts"] or 0.0
        equity.append((ts, running))
    hours = [f"{h:02d}" for h in range(24)]
    for t in trades:
        t["hour_label"] = f"{t['hour']:02d}"
    return {
        "tz": chart.zone_label(tz),
        "first_bar_ct": chart.ct_text(report.first_bar, tz),
        "last_bar_ct": chart.ct_text(report.last_bar, tz),
        "candidates_count": report.candidates,
        "bounds": [
            {"run": "stop first (the result)", **report.stats.as_dict()},
            {"run": "target first (optimistic bound)", **report.optimistic.as_dict()},
        ],
        "days": day_payload(report.bars, tz),
        "candidates": candidate_payload(report.journal, span.to_pytimedelta(), tz),
        "trades": trades,
        "equity": chart.equity_records(equity, tz),
        "by": {
            "setup": group_pnl(trades, "setup"),
            "session": group_pnl(trades, "session"),
            "hour (CT, entry)": group_pnl(trades, "hour_label", hours),
            "weekday": group_pnl(trades, "weekday", WEEKDAYS),
        },
    }


# ---------------------------------------------------------------- the page


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if isinstance(value, float | np.floating):
        return f"{float(value):.2f}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame) -> str:
    """A plain table with every missing value shown as a dash (never NaN)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    cells = ("".join(f"<td>{_cell(v)}</td>" for v in row) for row in frame.itertuples(index=False))
    rows = "".join(f"<tr>{c}</tr>" for c in cells)
    return f"<div class='mc-scroll'><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def _extras(report: BacktestReport) -> str:
    parts = []
    if report.decisions is not None:
        parts += ["<section><h2>Decisions</h2>", html_table(report.decisions), "</section>"]
    if report.calibration is not None:
        parts += ["<section><h2>Calibration of stated confidence</h2>", html_table(report.calibration), "</section>"]
    if report.decider_notes:
        parts += ["<ul>", *(f"<li>{html.escape(line)}</li>" for line in report.decider_notes), "</ul>"]
    return "".join(parts)


def report_html(report: BacktestReport, tz: ZoneInfo = CT, open_day: date | None = None) -> str:
    """The report page; it opens on `open_day` (else the day with the most trades)."""
    data = report_data(report, tz)
    data["open_day"] = open_day.isoformat() if open_day is not None else None
    body = _static("report-body.html").replace("<!--EXTRAS-->", _extras(report))
    return standalone_page("mesdesk backtest", body, data, _static("report.js"), _static("report.css"))


def write_report(report: BacktestReport, out: Path, chart_day: date | None, tz: ZoneInfo = CT) -> tuple[Path, ...]:
    """Write report.html (self-contained; it opens on `chart_day`); returns the paths written."""
    path = out / "report.html"
    path.write_text(report_html(report, tz, chart_day), encoding="utf-8")
    return (path,)
