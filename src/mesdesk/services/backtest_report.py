"""The backtest's HTML report: ONE self-contained file that opens offline and lets a trader walk through it.

`report.html` inlines the vendored chart library, the shared page components (the dashboard's
`mesdesk-charts.js`/`.css`) and the run's data as JSON: a daily candle for every trading day, and the days
`choose_days` keeps (all of a short run, at most `EMBED_DAYS` of a long one) selectable with their candles,
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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mesdesk.calendar import CT
from mesdesk.engine.config import EngineConfig
from mesdesk.pathbars import PathBars
from mesdesk.services import chart_data as chart
from mesdesk.services.display import zone_label
from mesdesk.timeframes import Timeframe

if TYPE_CHECKING:
    from mesdesk.services.backtest import BacktestReport

STATIC = files("mesdesk") / "api" / "static"
VENDOR_JS = "vendor/lightweight-charts.standalone.production.js"
COMPONENT_JS = "mesdesk-charts.js"
COMPONENT_CSS = "mesdesk-charts.css"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EMBED_DAYS = 40  # days embedded with their bars, at most (`choose_days`): about 6 MB of 1m bars


def static_text(name: str) -> str:
    """A file of the page components (`api/static`), as text."""
    return (STATIC / name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    # Inside <script>, only "</" can end the element early; "<\/" means the same to JavaScript and JSON.
    return text.replace("</", "<\\/")


class _Ready(list[Any]):
    """A list already JSON-ready (plain finite floats, ints, str, bool, None, and lists and dicts with str
    keys of these): `_clean` passes it through. Only lists ready by construction are marked: a slip
    (NaN, a numpy scalar) makes `json.dumps(..., allow_nan=False)` fail, not the page wrong.

    The day charts' bar columns hold most of a report's values; walking them one by one was most of
    the time of a multi-year report, and then the trade records were.
    """


def _finite(values: Iterable[float]) -> bool:
    """True when every value is finite: a NaN or an infinity makes the sum NaN or infinite.

    (A sum that overflows says False of finite values too; their list is then cleaned as any other.)
    """
    return math.isfinite(sum(values))


def _ready_if_finite(values: list[Any], floats: Iterable[float]) -> list[Any]:
    """`values` marked `_Ready` when `floats` (its only values that may be NaN or infinite) are all finite."""
    return _Ready(values) if _finite(floats) else values


def _clean(value: Any) -> Any:
    """JSON-ready: NaN/NaT/inf -> None, numpy scalars -> Python, timestamps -> ISO UTC."""
    if isinstance(value, _Ready):
        return value
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
        f"<style>{static_text(COMPONENT_CSS)}\n{css}</style></head><body>"
        f"{body}"
        f"<script>{_script_safe(static_text(VENDOR_JS))}</script>"
        f"<script>{_script_safe(static_text(COMPONENT_JS))}</script>"
        f"<script>window.REPORT = {_script_safe(payload)};</script>"
        f"<script>{_script_safe(script)}</script>"
        "</body></html>"
    )


# ---------------------------------------------------------------- the data


def _float(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def indicator_frame(bars: pd.DataFrame, span: pd.Timedelta | None = None) -> pd.DataFrame:
    """The day charts' frame: the run's bars (5m when they are 5m or longer, else 1m) with EMA20 and VWAP.

    `span` is the bars' length when the caller has it (default: `chart.base_span(bars)`).
    """
    span = chart.base_span(bars) if span is None else span
    tf = Timeframe.M5 if span >= pd.Timedelta(minutes=5) else Timeframe.M1
    return chart.with_indicators(bars, tf, span=span)


def day_payload(
    bars: pd.DataFrame,
    tz: ZoneInfo,
    days: Mapping[date, Sequence[str]] | None = None,
    frame: pd.DataFrame | None = None,
    span: pd.Timedelta | None = None,
) -> list[dict[str, Any]]:
    """Trading days' bars (the run's timeframe) with EMA20 and VWAP, as compact column arrays.

    `days` maps the days to embed to why each is there (None: every day). EMA20 runs over the whole
    run whichever days are kept, so a day's line is the one the run saw. `frame` is `indicator_frame(bars)`
    and `span` is `chart.base_span(bars)` when the caller has them already.
    """
    span = chart.base_span(bars) if span is None else span
    frame = indicator_frame(bars, span) if frame is None else frame
    keep = chart.BAR_FIELDS[:6] + chart.BAR_FIELDS[7:]  # the page draws no volume
    slices = {day: rows for day, rows in chart.day_slices(frame).items() if days is None or day in days}
    if not slices:
        return []
    # One `bar_columns` of the kept days' rows (each bar's values are its row's), cut back into days.
    cols = chart.bar_columns(frame.iloc[np.concatenate([np.arange(r.start, r.stop) for r in slices.values()])], tz)
    out = []
    at = 0
    for day, rows in slices.items():
        part = slice(at, at + rows.stop - rows.start)
        at = part.stop
        rng = chart.opening_range(bars, day, span=span)
        if rng is not None:
            rng["end_t"] = chart.wall_of(datetime.fromisoformat(rng["end_ts"].replace("Z", "+00:00")), tz)
        rec: dict[str, Any] = {
            "day": day.isoformat(),
            "weekday": WEEKDAYS[day.weekday()],
            "span_s": int(span.total_seconds()),
            "bars": {k: _Ready(cols[k][part]) for k in keep},
            "opening_range": rng,
        }
        if days is not None and days[day]:
            rec["why"] = list(days[day])
        out.append(rec)
    return out


def _utc(frame: pd.DataFrame, key: str) -> pd.DatetimeIndex:
    """Column `key` as aware UTC instants (all NaT when the column is missing)."""
    if key not in frame:
        return pd.DatetimeIndex([pd.NaT] * len(frame), dtype="datetime64[ns, UTC]")
    return pd.DatetimeIndex(frame[key]).tz_convert("UTC")


def _values(frame: pd.DataFrame, key: str, default: Any) -> list[Any]:
    """Column `key` as Python values (as `to_dict("records")` gives them); `default` when it is missing."""
    return frame[key].tolist() if key in frame else [default] * len(frame)


def _floats(frame: pd.DataFrame, key: str) -> list[float | None]:
    """Column `key` as floats for the records' `_num` (None for an absent column): `_float` of each value,
    except that a float64 column keeps its NaN, which `_num` turns into None as it does None itself."""
    if key in frame and frame[key].dtype == np.float64:
        values: list[float | None] = frame[key].to_numpy().tolist()
        return values
    return [_float(v) for v in _values(frame, key, None)]


def _day_texts(frame: pd.DataFrame) -> tuple[list[str], list[int]]:
    """The `trading_day` column as ISO dates and weekdays (Monday 0), as `pd.Timestamp(v).date()` gives them."""
    days = pd.DatetimeIndex(frame["trading_day"])
    if days.tz is not None:
        days = days.tz_localize(None)
    dates = days.to_numpy().astype("datetime64[D]")
    weekdays = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return np.datetime_as_string(dates, unit="D").tolist(), weekdays.tolist()


def candidate_payload(journal: pd.DataFrame, span: timedelta, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Every journal row as a marker record (kind: taken, skipped, refused, below prefilter)."""
    ts = _utc(journal, "ts")
    keep = np.flatnonzero(~np.asarray(ts.isna(), dtype=bool))
    journal, ts = journal.iloc[keep], ts[keep]
    clocks = chart.candidate_clocks(ts, span, tz)
    traded = (~np.asarray(_utc(journal, "entry_ts").isna(), dtype=bool)).tolist()
    ref = _values(journal, "ref_entry", math.nan)
    columns = zip(
        _values(journal, "setup", ""),
        _values(journal, "direction", ""),
        _floats(journal, "prefilter_score"),
        _values(journal, "passed_prefilter", True),
        _values(journal, "decision", ""),
        _values(journal, "decision_source", ""),
        _floats(journal, "confidence"),
        _values(journal, "reason", ""),
        _values(journal, "gate", ""),
        _floats(journal, "pnl_pts"),
        strict=True,
    )
    days, _ = _day_texts(journal)
    out = []
    for j, (setup, direction, score, passed, decision, source, confidence, reason, gate, pnl) in enumerate(columns):
        rec = chart.candidate_record(
            clock=clocks[j],
            setup=str(setup),
            direction=str(direction),
            ref_entry=float(ref[j]),
            score=score,
            passed_prefilter=bool(passed),
            decision=str(decision),
            source=str(source or ""),
            confidence=confidence,
            reason=str(reason or ""),
            gate=str(gate or ""),
            traded=traded[j],
            pnl_pts=pnl if traded[j] else None,
        )
        rec["day"] = days[j]
        out.append(rec)
    # Ready by construction: `_num` gives finite floats or None, the rest are str, bool and int.
    return _Ready(out)


def trade_payload(
    trades: pd.DataFrame,
    bars: pd.DataFrame,
    tz: ZoneInfo,
    config: EngineConfig | None = None,
    sub_bars: pd.DataFrame | None = None,
    span: pd.Timedelta | None = None,
) -> list[dict[str, Any]]:
    """Trades with CT times, the day, the entry hour (CT) and the stop path replayed by the one bracket walk.

    The walk is the run's: its bracket and execution rules (`config`, default the seed's) over the bars
    the positions walked (`sub_bars` when the run had them, else `bars`), so the path drawn ends where
    the trade did. A trade's `id` is its row number from 1; rows without an entry are left out.
    `span` is `chart.base_span(bars)` when the caller has it.
    """
    bar_span = chart.base_span(bars) if span is None else span
    path = PathBars.from_frame(
        bars if sub_bars is None else sub_bars, bar_span if sub_bars is None else chart.base_span(sub_bars)
    )
    config = config or EngineConfig()
    bracket, execution = config.bracket, config.execution
    entry, exit_ = pd.DatetimeIndex(trades["entry_ts"]).tz_convert("UTC"), _utc(trades, "exit_ts")
    rows = np.flatnonzero(~np.asarray(entry.isna(), dtype=bool))
    trades, entry, exit_ = trades.iloc[rows], entry[rows], exit_[rows]
    clocks = chart.trade_clocks(entry, exit_, tz)
    # The walk starts and ends at the instants as datetimes hold them (whole microseconds).
    entry_ns = (entry.as_unit("ns").asi8 // 1000 * 1000).tolist()
    exit_us = (exit_.as_unit("ns").asi8 // 1000 * 1000).tolist()
    exit_ns = [None if c["exit_ts"] is None else ns for c, ns in zip(clocks, exit_us, strict=True)]
    directions = trades["direction"].tolist()
    prices = [float(v) for v in trades["entry_price"].tolist()]
    signs = [1 if d == "long" else -1 for d in directions]
    paths = [
        chart.stop_path_ns(
            path,
            direction=sign,
            entry_ns=a,
            entry_price=price,
            exit_ns=b,
            bracket=bracket,
            execution=execution,
        )
        for sign, a, b, price in zip(signs, entry_ns, exit_ns, prices, strict=True)
    ]
    stops = chart.stop_records([p for points in paths for p in points], tz)
    ends = np.cumsum([len(points) for points in paths]).tolist()
    days, weekdays = _day_texts(trades)
    columns = zip(
        trades["setup"].tolist(),
        _values(trades, "session", ""),
        _floats(trades, "exit_price"),
        _values(trades, "exit_reason", ""),
        _floats(trades, "pnl_pts"),
        _values(trades, "result", ""),
        _floats(trades, "prefilter_score"),
        _floats(trades, "confidence"),
        _floats(trades, "mae"),
        _floats(trades, "mfe"),
        _values(trades, "ambiguous", False),
        strict=True,
    )
    bar_length = bar_span.to_pytimedelta()
    out = []
    for j, (setup, session, exit_price, reason, pnl, result, score, confidence, mae, mfe, ambiguous) in enumerate(
        columns
    ):
        rec = chart.trade_record(
            clock=clocks[j],
            span=bar_length,
            setup=str(setup),
            direction=str(directions[j]),
            session=str(session),
            entry_price=prices[j],
            exit_price=exit_price,
            exit_reason=str(reason or ""),
            pnl_pts=pnl,
            result=str(result),
            score=score,
            confidence=confidence,
            mae=mae,
            mfe=mfe,
            ambiguous=bool(ambiguous),
            stops=stops[ends[j] - len(paths[j]) : ends[j]],
            target=prices[j] + signs[j] * bracket.tp_pts,
        )
        entry_t = clocks[j]["entry_t"]
        rec.update(id=int(rows[j]) + 1, day=days[j], weekday=WEEKDAYS[weekdays[j]], hour=entry_t % 86_400 // 3600)
        out.append(rec)
    # Ready by construction (`_num` floats or None, str, bool, int) but for the stop levels, which are checked.
    return _ready_if_finite(out, (p["stop"] for p in stops))


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


def choose_days(
    days: Sequence[date], trades: Sequence[Mapping[str, Any]], max_days: int, chart_day: date | None = None
) -> dict[date, list[str]] | None:
    """The days whose bars a report embeds, each with why; None when all `days` fit in `max_days`.

    A day's 1m bars weigh about 120 kB in the page and most of its build time, so a multi-year run
    embeds at most `max_days` days, the ones a trader opens first, in this order of priority:
    `chart_day`, the busiest day (the page opens on it), the `max_days // 4` best and worst days by net
    points (alternately), then the most recent days with trades, then the most recent days.
    Every trade stays in the table, the equity curve and the statistics; every day stays in the overview.
    """
    if len(days) <= max_days:
        return None
    count: Counter[date] = Counter()
    net: dict[date, float] = {}
    for t in trades:
        day = date.fromisoformat(t["day"])
        count[day] += 1
        net[day] = net.get(day, 0.0) + float(t["pnl_pts"] or 0.0)
    ranked = sorted(net, key=lambda d: (-net[d], d))
    picks: list[tuple[date, str]] = [] if chart_day is None else [(chart_day, "--chart-day")]
    picks += [(day, "busiest") for day, _ in count.most_common(1)]
    for best, worst in list(zip(ranked, ranked[::-1], strict=True))[: max(1, max_days // 4)]:
        picks += [(best, "best"), (worst, "worst")]
    picks += [(day, "recent") for day in sorted(count, reverse=True)]
    picks += [(day, "recent") for day in sorted(days, reverse=True)]
    chosen: dict[date, list[str]] = {}
    for day, why in picks:
        if day in chosen:
            if why not in chosen[day] and why != "recent":
                chosen[day].append(why)
        elif len(chosen) < max_days:
            chosen[day] = [why]
    return dict(sorted(chosen.items()))


def overview_payload(
    frame: pd.DataFrame,
    trades: Sequence[Mapping[str, Any]],
    candidates: pd.Series,
    embedded: Iterable[date] | None,
    slices: Mapping[date, slice] | None = None,
) -> dict[str, list[Any]]:
    """One daily candle per trading day of the run (from `indicator_frame`), with its trades, net points,
    candidates and whether its bars are embedded; columns, like the day charts' bars.

    `t` is the day's date at 00:00 as wall seconds, so the page's axis reads the trading day. `slices`
    is `chart.day_slices(frame)` when the caller has it.
    """
    slices = chart.day_slices(frame) if slices is None else slices
    starts = np.array([s.start for s in slices.values()], dtype=np.int64)
    stops = np.array([s.stop for s in slices.values()], dtype=np.int64)
    high, low = (frame[k].to_numpy(dtype=np.float64) for k in ("high", "low"))
    count: Counter[str] = Counter(t["day"] for t in trades)
    net: dict[str, float] = {}
    for t in trades:
        net[t["day"]] = net.get(t["day"], 0.0) + float(t["pnl_pts"] or 0.0)
    days = [d.isoformat() for d in slices]
    inside = set(slices) if embedded is None else set(embedded)
    prices = {
        "open": frame["open"].to_numpy(dtype=np.float64)[starts].tolist() if len(starts) else [],
        "high": np.maximum.reduceat(high, starts).tolist() if len(starts) else [],
        "low": np.minimum.reduceat(low, starts).tolist() if len(starts) else [],
        "close": frame["close"].to_numpy(dtype=np.float64)[stops - 1].tolist() if len(starts) else [],
    }
    net_pts = [round(net.get(d, 0.0), 4) for d in days]
    # Each list is plain str, int, bool or float (from `tolist` and `round`): ready when its floats are finite.
    return {
        "day": _Ready(days),
        "t": _Ready([int((d - date(1970, 1, 1)).days) * 86_400 for d in slices]),
        **{k: _ready_if_finite(v, v) for k, v in prices.items()},
        "trades": _Ready([count.get(d, 0) for d in days]),
        "net_pts": _ready_if_finite(net_pts, net_pts),
        "candidates": _Ready([int(candidates.get(d, 0)) for d in days]),
        "embedded": _Ready([d in inside for d in slices]),
    }


def _journal_days(journal: pd.DataFrame) -> pd.Series:
    """The trading day (ISO text) of each journal row."""
    if journal.empty:
        return pd.Series([], dtype=object)
    return pd.Series(pd.DatetimeIndex(journal["trading_day"]).strftime("%Y-%m-%d"), index=journal.index)


def _embedding_note(chosen: Mapping[date, Sequence[str]] | None, total: int, max_days: int, by_flag: bool) -> str:
    """What the page says about the days it holds, and the command that draws any other day."""
    if chosen is None:
        return f"All {total} trading days are in this file with their bars."
    first = "the day given by --chart-day, " if by_flag else ""
    return (
        f"{len(chosen)} of {total} trading days are in this file with their bars (at most {max_days}): {first}"
        f"the busiest day, the {max(1, max_days // 4)} best and worst days by net points, then the most recent "
        "days with trades. Every trade is in the table, the equity curve and the statistics, and every day in "
        "the overview. To draw another day, run the same backtest again with --chart-day YYYY-MM-DD: the report "
        "then holds that day and opens on it."
    )


def _equity(points: Sequence[tuple[datetime, float]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """`chart.equity_records`, marked ready when its points are finite (all but they are int and str)."""
    records = chart.equity_records(points, tz)
    return _ready_if_finite(records, (r[k] for r in records for k in ("equity_pts", "drawdown_pts")))


def report_data(
    report: BacktestReport, tz: ZoneInfo = CT, chart_day: date | None = None, max_days: int = EMBED_DAYS
) -> dict[str, Any]:
    """Everything the page draws, JSON-ready (NaN -> null); bars and candidates of `choose_days` only."""
    span = chart.base_span(report.bars)
    trades = trade_payload(report.trades, report.bars, tz, report.config, report.sub_bars, span)
    closed = [(datetime.fromisoformat(t["exit_ts"].replace("Z", "+00:00")), t) for t in trades if t["exit_ts"]]
    closed.sort(key=lambda x: x[0])
    equity, running = [], 0.0
    for ts, t in closed:
        running += t["pnl_pts"] or 0.0
        equity.append((ts, running))
    hours = [f"{h:02d}" for h in range(24)]
    for t in trades:
        t["hour_label"] = f"{t['hour']:02d}"
    frame = indicator_frame(report.bars, span)
    slices = chart.day_slices(frame)
    all_days = list(slices)
    chosen = choose_days(all_days, trades, max_days, chart_day)
    journal_days = _journal_days(report.journal)
    journal = report.journal
    if chosen is not None:
        journal = journal[journal_days.isin({d.isoformat() for d in chosen})]
    return {
        "tz": zone_label(tz),
        "first_bar_ct": chart.ct_text(report.first_bar, tz),
        "last_bar_ct": chart.ct_text(report.last_bar, tz),
        "candidates_count": report.candidates,
        "bounds": [
            {"run": "stop first (the result)", **report.stats.as_dict()},
            {"run": "target first (optimistic bound)", **report.optimistic.as_dict()},
        ],
        "days": day_payload(report.bars, tz, chosen, frame, span),
        "candidates": candidate_payload(journal, span.to_pytimedelta(), tz),
        "trades": trades,
        "equity": _equity(equity, tz),
        "by": {
            "setup": group_pnl(trades, "setup"),
            "session": group_pnl(trades, "session"),
            "hour (CT, entry)": group_pnl(trades, "hour_label", hours),
            "weekday": group_pnl(trades, "weekday", WEEKDAYS),
        },
        "overview": overview_payload(frame, trades, journal_days.value_counts(), chosen, slices),
        "embedded_note": _embedding_note(chosen, len(all_days), max_days, chart_day is not None),
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


def report_html(
    report: BacktestReport, tz: ZoneInfo = CT, open_day: date | None = None, max_days: int = EMBED_DAYS
) -> str:
    """The report page; it opens on `open_day` (else the day with the most trades), always embedded."""
    data = report_data(report, tz, open_day, max_days)
    data["open_day"] = open_day.isoformat() if open_day is not None else None
    body = static_text("report-body.html").replace("<!--EXTRAS-->", _extras(report))
    return standalone_page("mesdesk backtest", body, data, static_text("report.js"), static_text("report.css"))


def write_report(
    report: BacktestReport, out: Path, chart_day: date | None, tz: ZoneInfo = CT, max_days: int = EMBED_DAYS
) -> tuple[Path, ...]:
    """Write report.html (self-contained; it opens on `chart_day`); returns the paths written."""
    path = out / "report.html"
    path.write_text(report_html(report, tz, chart_day, max_days), encoding="utf-8")
    return (path,)
