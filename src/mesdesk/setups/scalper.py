"""The scalper's candidate generator: three setups and the prefilter over a frame of bars.

`detect_candidates` returns one row per (bar, setup, direction) where a setup completed, with the
columns of `mesdesk.candidates.CANDIDATE_COLUMNS` (the one schema, re-exported here). A candidate's
time `ts` is the CLOSE of the bar that completed it (bar open + span); every number in its row is
known at `ts`. The candidate rows with ``ts <= t`` are the same whether or not bars after ``t`` are
in the input (tests/setups prove it).

Candidates are produced for bars that open in regular hours (08:30 CT to `rth_end_min`); the engine
decides which sessions may enter (the seed's rth_a and rth_b). Direction-dependent features are
signed in the trade's favour (positive = on the side the trade wants), so longs and shorts pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.calendar import RTH_A, RTH_B, minute_labels
from mesdesk.candidates import CANDIDATE_COLUMNS, FEATURE_COLUMNS, empty_candidate_frame
from mesdesk.errors import ConfigError
from mesdesk.frames import joined_text_column, text_column
from mesdesk.model import Candidate, Direction, SetupType
from mesdesk.prefilter import PF_COLUMNS, PrefilterConfig, PrefilterInputs, score
from mesdesk.setups import ema_pullback, orb_retest, vwap_rejection
from mesdesk.setups.context import (
    BAR_PRICES,
    NS_PER_MIN,
    RTH_OPEN_MIN,
    BarContext,
    FloatArray,
    IndicatorConfig,
    ScanArgs,
    Scanned,
    SetupHits,
    build_context_and_scan,
    ct_wall_ns,
)
from mesdesk.setups.ema_pullback import EmaPullbackConfig
from mesdesk.setups.orb_retest import OrbRetestConfig
from mesdesk.setups.vwap_rejection import VwapRejectionConfig
from mesdesk.timeframes import Timeframe

__all__ = [
    "CANDIDATE_COLUMNS",
    "FEATURE_COLUMNS",
    "SETUP_ORDER",
    "ScalperSetupsConfig",
    "candidate_from_row",
    "context_columns",
    "detect_candidates",
    "scalper_context",
]

SETUP_ORDER = (SetupType.ORB_RETEST_GO, SetupType.EMA20_PULLBACK, SetupType.VWAP_REJECTION)


@dataclass(frozen=True, slots=True)
class ScalperSetupsConfig:
    """Everything the candidate generator needs: shared indicators, one config per setup, the prefilter."""

    indicators: IndicatorConfig = field(default_factory=IndicatorConfig)
    orb: OrbRetestConfig = field(default_factory=OrbRetestConfig)
    ema_pullback: EmaPullbackConfig = field(default_factory=EmaPullbackConfig)
    vwap_rejection: VwapRejectionConfig = field(default_factory=VwapRejectionConfig)
    prefilter: PrefilterConfig = field(default_factory=PrefilterConfig)

    def __post_init__(self) -> None:
        if self.orb.range_minutes + RTH_OPEN_MIN >= self.indicators.rth_end_min:
            raise ConfigError("orb.range_minutes leaves no regular-hours bars after the opening range")


def _scan_args(config: ScalperSetupsConfig, bar_minutes: float) -> ScanArgs:
    """`scans.scalper_scans`'s arguments after its series: each setup's `scan_params` and which are enabled."""
    tick = config.indicators.tick_size
    return (
        orb_retest.scan_params(bar_minutes, config.orb, tick),
        ema_pullback.scan_params(config.ema_pullback, tick),
        vwap_rejection.scan_params(config.vwap_rejection, tick),
        _enabled(config),
    )


def _enabled(config: ScalperSetupsConfig) -> tuple[bool, bool, bool]:
    """Which setups run, in `SETUP_ORDER`."""
    return (bool(config.orb.enabled), bool(config.ema_pullback.enabled), bool(config.vwap_rejection.enabled))


def _detect_all(
    ctx: BarContext, config: ScalperSetupsConfig, scanned: Scanned | None = None
) -> tuple[list[tuple[SetupType, SetupHits]], tuple[FloatArray, FloatArray]]:
    """The three setups' hits, as `detect_orb_retest`, `detect_ema_pullback` and `detect_vwap_rejection`
    give them, and the opening range's high and low (`opening_range_edges`): `scanned` when the context's
    call ran the scans (`build_context_and_scan`), else from one compiled call (`scans.scalper_scans`)."""
    enabled = _enabled(config)
    if scanned is None:
        from mesdesk.setups.scans import scalper_scans

        series = (
            *(ctx.bar_close, ctx.bar_open, ctx.bar_high, ctx.bar_low, ctx.source_index, ctx.minute_open, ctx.rth),
            *(ctx.day, ctx.ema_fast, ctx.ema_slow, ctx.ema_slope, ctx.atr_5m, ctx.vwap),
        )
        or_high, or_low = np.empty(ctx.size), np.empty(ctx.size)
        hit: Any = [np.zeros(ctx.size, dtype=np.bool_) for _ in range(6)]
        scalper_scans(series, *_scan_args(config, ctx.bar_minutes), float(ctx.bar_minutes), (or_high, or_low, *hit))
    else:
        or_high, or_low, hit = scanned
    levels = ((or_high, or_low), (ctx.ema_fast, ctx.ema_fast), (ctx.vwap, ctx.vwap))
    found = []
    for k, setup in enumerate(SETUP_ORDER):
        if not enabled[k] or ctx.size == 0:
            found.append((setup, SetupHits.empty()))
            continue
        long_level, short_level = levels[k]
        sides = [SetupHits.at(hit[2 * k], 1, long_level), SetupHits.at(hit[2 * k + 1], -1, short_level)]
        found.append((setup, SetupHits.concat(sides)))
    return found, (or_high, or_low)


def _per_atr(x: FloatArray, atr_pts: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(x / np.where(atr_pts > 0, atr_pts, np.nan), dtype=np.float64)


def _features(ctx: BarContext, i: np.ndarray, s: FloatArray, level: FloatArray, or_width: FloatArray) -> dict[str, Any]:
    a = ctx.atr_5m[i]
    c, o, h, lo = (ctx.price(name, i) for name in ("close", "open", "high", "low"))
    rng = h - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        body = np.where(rng > 0, s * (c - o) / np.where(rng > 0, rng, 1.0), 0.0)
        adverse = np.where(s > 0, lo, h)
        close_pos = np.where(rng > 0, s * (c - adverse) / np.where(rng > 0, rng, 1.0), 0.5)
    return {
        "dist_vwap_atr": _per_atr(s * (c - ctx.vwap[i]), a),
        "dist_ema_atr": _per_atr(s * (c - ctx.ema_fast[i]), a),
        "ema_slope_atr": _per_atr(s * ctx.ema_slope[i], a),
        "minutes_since_open": ctx.minutes_since_open_at(i),
        "dist_level_atr": _per_atr(s * (c - level), a),
        "ema_spread_atr": _per_atr(s * (ctx.ema_fast[i] - ctx.ema_slow[i]), a),
        "bar_range_atr": _per_atr(rng, a),
        "body_frac": body,
        "close_position": close_pos,
        "or_width_atr": _per_atr(or_width[i], a),
        "atr_bar_pts": ctx.atr_bar[i],
        "setup_level": level,
    }


@lru_cache(maxsize=4)
def _label_table(rth_end_min: int) -> np.ndarray:
    """`calendar.session_labels` for each CT wall minute of a day (labels depend on the wall minute only)."""
    return minute_labels(np.arange(24 * 60), rth_end=time(rth_end_min // 60, rth_end_min % 60))


def scalper_context(bars: pd.DataFrame, config: ScalperSetupsConfig, timeframe: Timeframe) -> BarContext:
    """The shared point-in-time series of `bars` with the look-back the three setups need."""
    return _context_and_scan(bars, config, timeframe, scan=False)[0]


def _context_and_scan(
    bars: pd.DataFrame, config: ScalperSetupsConfig, timeframe: Timeframe, *, scan: bool
) -> tuple[BarContext, Scanned | None]:
    """`scalper_context`, and with `scan` the three setups' scans in the same compiled call where the
    context allows it (`build_context_and_scan`)."""
    if config.orb.range_minutes % timeframe.minutes:
        raise ConfigError(
            f"orb.range_minutes={config.orb.range_minutes} is not a whole number of {timeframe.value} bars"
        )
    lookback_bars = max(config.ema_pullback.touch_lookback_bars, config.vwap_rejection.fresh_bars) + 2
    pre_open_minutes = max(30.0, lookback_bars * timeframe.minutes)
    bar_minutes = int(pd.Timedelta(timeframe.span).value) / NS_PER_MIN  # BarContext.bar_minutes
    args = _scan_args(config, bar_minutes) if scan else None
    return build_context_and_scan(bars, config.indicators, timeframe, pre_open_minutes, args)


def _padded(ctx: BarContext) -> BarContext:
    """`ctx` plus one unknown bar at the end (NaN numbers and prices, -1 day and minute, outside RTH)."""
    extra: dict[str, Any] = {}
    for name in ctx.__dataclass_fields__:
        value = getattr(ctx, name)
        if not isinstance(value, np.ndarray):
            continue
        if name in BAR_PRICES:  # every input bar: one more, unknown, where the extra bar's position points
            extra[name] = np.append(value, np.nan)
            continue
        if name == "bar_open_ns":
            extra[name] = np.append(value, np.int64(-1))
            continue
        if name == "source_index":
            fill: Any = ctx.bar_close.size
        elif value.dtype.kind == "f":
            fill = np.nan
        elif value.dtype.kind == "b":
            fill = False
        elif value.dtype.kind == "M":
            fill = np.datetime64("NaT")
        else:
            fill = -1
        extra[name] = np.append(value, np.array([fill], dtype=value.dtype))
    return replace(ctx, **extra)


def _second_text(wall: np.ndarray) -> Any:
    """``np.datetime_as_string(wall, unit="s")`` as a text column (`frames.joined_text_column`), each
    distinct date and time of day formatted once (a backtest's candidates share a few hundred dates and
    at most 86,400 times of day)."""
    seconds = wall.astype(np.int64)
    day = seconds // 86_400
    days, which_day = np.unique(day, return_inverse=True)
    times, which_time = np.unique(seconds - day * 86_400, return_inverse=True)
    day_text = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()
    time_text = [t[10:] for t in np.datetime_as_string(times.astype("datetime64[s]"), unit="s")]
    return joined_text_column(day_text, which_day.reshape(-1), time_text, which_time.reshape(-1))


def context_columns(
    ctx: BarContext,
    rows: np.ndarray,
    sign: np.ndarray,
    level: FloatArray,
    or_width: FloatArray,
    close_ns: np.ndarray,
    config: ScalperSetupsConfig,
) -> dict[str, Any]:
    """Prefilter, context and feature columns of candidates at context bars `rows` (signs, levels).

    `or_width` is per context bar; `close_ns` are the candidates' times (sorted). A row of -1 is a
    bar outside the context's hours: its numbers are unknown (NaN) and earn no prefilter points.
    """
    if rows.size and rows.min() < 0:
        ctx = _padded(ctx)
        or_width = np.append(or_width, np.nan)
        rows = np.where(rows < 0, ctx.size - 1, rows)
    s = sign.astype(np.float64)
    wall_ns = ct_wall_ns(close_ns, ctx.ct_runs)
    table = _label_table(config.indicators.rth_end_min)
    minute = (wall_ns // NS_PER_MIN) % (24 * 60)
    labels = table[minute]
    in_window = (labels == RTH_A.label) | (labels == RTH_B.label)
    pf_inputs = PrefilterInputs(
        sign=sign,
        open=ctx.price("open", rows),
        high=ctx.price("high", rows),
        low=ctx.price("low", rows),
        close=ctx.price("close", rows),
        level=level,
        ema_fast=ctx.ema_fast[rows],
        ema_slow=ctx.ema_slow[rows],
        ema_slope=ctx.ema_slope[rows],
        vwap=ctx.vwap[rows],
        atr_5m=ctx.atr_5m[rows],
        volume_multiple=ctx.volume_multiple[rows],
        in_window=np.asarray(in_window, dtype=bool),
    )
    total, points = score(pf_inputs, config.prefilter)
    wall = (wall_ns // 1_000_000_000).astype("datetime64[s]")
    return {
        "prefilter_score": total,
        "passed_prefilter": total >= config.prefilter.threshold,
        **points,
        "volume_multiple": ctx.volume_multiple[rows],
        "atr_5m": ctx.atr_5m[rows],
        "session_label": text_column(table.tolist(), minute),
        "timestamp_ct": _second_text(wall),
        **_features(ctx, rows, s, level, or_width),
    }


def detect_candidates(
    bars: pd.DataFrame,
    config: ScalperSetupsConfig | None = None,
    timeframe: Timeframe = Timeframe.M1,
) -> pd.DataFrame:
    """All setup candidates in `bars` (validated, sorted, UTC-indexed by bar open), sorted by time.

    Ties at one bar are ordered ORB, EMA pullback, VWAP rejection, then long before short.
    `trading_day` is the CME trading day (pandas holds it as datetime64[s] at midnight).
    """
    config = config or ScalperSetupsConfig()
    ctx, scanned = _context_and_scan(bars, config, timeframe, scan=True)
    every, (or_high, or_low) = _detect_all(ctx, config, scanned)  # the ORB setup and a feature share the range
    found = [(setup, hits) for setup, hits in every if hits.index.size]
    if not found:
        return empty_candidate_frame()
    idx = np.concatenate([h.index for _, h in found])
    sign = np.concatenate([h.sign for _, h in found])
    level = np.concatenate([h.level for _, h in found])
    setup_code = np.concatenate([np.full(h.index.size, SETUP_ORDER.index(s)) for s, h in found])
    order = np.lexsort((-sign, setup_code, idx))
    idx, sign, level, setup_code = idx[order], sign[order], level[order], setup_code[order]
    close_ns = ctx.close_ns_at(idx)
    columns: dict[str, Any] = {
        "ts": pd.DatetimeIndex(pd.to_datetime(close_ns, unit="ns", utc=True)),
        "bar_index": ctx.source_index[idx],
        "setup_type": text_column([t.value for t in SETUP_ORDER], setup_code),
        "direction": text_column([Direction.SHORT.value, Direction.LONG.value], (sign > 0).astype(np.int64)),
        "ref_entry": ctx.price("close", idx),
        "trading_day": ctx.trading_day_at(idx),
        **context_columns(ctx, idx, sign, level, or_high - or_low, close_ns, config),
    }
    return pd.DataFrame({name: columns[name] for name in CANDIDATE_COLUMNS})


def _as_float(value: Any) -> float:
    return float(value) if value is not None else float("nan")


def candidate_from_row(row: Mapping[str, Any] | pd.Series) -> Candidate:
    """A `Candidate` from one row of `detect_candidates` (features: learning columns and pf_ points)."""
    features = {name: _as_float(row[name]) for name in (*FEATURE_COLUMNS, *PF_COLUMNS)}
    return Candidate(
        ts=pd.Timestamp(row["ts"]).to_pydatetime(),
        setup_type=str(row["setup_type"]),
        direction=Direction(str(row["direction"])),
        ref_entry=float(row["ref_entry"]),
        prefilter_score=float(row["prefilter_score"]),
        volume_multiple=_as_float(row["volume_multiple"]),
        atr_5m=_as_float(row["atr_5m"]),
        session_label=str(row["session_label"]),
        trading_day=pd.Timestamp(row["trading_day"]).date(),
        features=features,
    )
