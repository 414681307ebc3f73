"""The scalper's candidate generator: three setups and the prefilter over a frame of bars.

`detect_candidates` returns one row per (bar, setup, direction) where a setup completed, with the
columns of `CANDIDATE_COLUMNS`. A candidate's time `ts` is the CLOSE of the bar that completed it
(bar open + span); every number in its row is known at `ts`. The candidate rows with ``ts <= t``
are the same whether or not bars after ``t`` are in the input (tests/setups prove it).

Candidates are produced for bars that open in regular hours (08:30 CT to `rth_end_min`); the engine
decides which sessions may enter (the seed's rth_a and rth_b). Direction-dependent features are
signed in the trade's favour (positive = on the side the trade wants), so longs and shorts pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.calendar import CT, RTH_A, RTH_B, session_labels
from mesdesk.errors import ConfigError
from mesdesk.model import Candidate, Direction, SetupType
from mesdesk.prefilter import PF_COLUMNS, PrefilterConfig, PrefilterInputs, score
from mesdesk.setups.context import (
    NS_PER_MIN,
    RTH_OPEN_MIN,
    BarContext,
    FloatArray,
    IndicatorConfig,
    SetupHits,
    build_context,
    ct_wall_ns,
)
from mesdesk.setups.ema_pullback import EmaPullbackConfig, detect_ema_pullback
from mesdesk.setups.orb_retest import OrbRetestConfig, detect_orb_retest, opening_range_edges
from mesdesk.setups.vwap_rejection import VwapRejectionConfig, detect_vwap_rejection
from mesdesk.timeframes import Timeframe

FEATURE_COLUMNS = (
    "dist_vwap_atr",
    "dist_ema_atr",
    "ema_slope_atr",
    "minutes_since_open",
    "dist_level_atr",
    "ema_spread_atr",
    "bar_range_atr",
    "body_frac",
    "close_position",
    "or_width_atr",
    "atr_bar_pts",
    "setup_level",
)

CANDIDATE_COLUMNS = (
    "ts",
    "bar_index",
    "setup_type",
    "direction",
    "ref_entry",
    "prefilter_score",
    "passed_prefilter",
    *PF_COLUMNS,
    "volume_multiple",
    "atr_5m",
    "session_label",
    "trading_day",
    "timestamp_ct",
    *FEATURE_COLUMNS,
)

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


def _detect_all(
    ctx: BarContext, config: ScalperSetupsConfig, or_edges: tuple[FloatArray, FloatArray]
) -> list[tuple[SetupType, SetupHits]]:
    tick = config.indicators.tick_size
    return [
        (SetupType.ORB_RETEST_GO, detect_orb_retest(ctx, config.orb, tick, or_edges)),
        (SetupType.EMA20_PULLBACK, detect_ema_pullback(ctx, config.ema_pullback, tick)),
        (SetupType.VWAP_REJECTION, detect_vwap_rejection(ctx, config.vwap_rejection, tick)),
    ]


def _per_atr(x: FloatArray, atr_pts: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(x / np.where(atr_pts > 0, atr_pts, np.nan), dtype=np.float64)


def _features(ctx: BarContext, i: np.ndarray, s: FloatArray, level: FloatArray, or_width: FloatArray) -> dict[str, Any]:
    a = ctx.atr_5m[i]
    c, o, h, lo = ctx.close[i], ctx.open[i], ctx.high[i], ctx.low[i]
    rng = h - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        body = np.where(rng > 0, s * (c - o) / np.where(rng > 0, rng, 1.0), 0.0)
        adverse = np.where(s > 0, lo, h)
        close_pos = np.where(rng > 0, s * (c - adverse) / np.where(rng > 0, rng, 1.0), 0.5)
    return {
        "dist_vwap_atr": _per_atr(s * (c - ctx.vwap[i]), a),
        "dist_ema_atr": _per_atr(s * (c - ctx.ema_fast[i]), a),
        "ema_slope_atr": _per_atr(s * ctx.ema_slope[i], a),
        "minutes_since_open": ctx.minutes_since_open[i],
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
    midnight = datetime(2025, 6, 11, tzinfo=CT)
    minutes = pd.DatetimeIndex([midnight + timedelta(minutes=m) for m in range(24 * 60)])
    table: np.ndarray = session_labels(minutes, rth_end=time(rth_end_min // 60, rth_end_min % 60))
    return table


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in CANDIDATE_COLUMNS})
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["bar_index"] = pd.Series(dtype="int64")
    for name in ("setup_type", "direction", "session_label", "timestamp_ct"):
        frame[name] = pd.Series(dtype="object")
    frame["passed_prefilter"] = pd.Series(dtype="bool")
    frame["trading_day"] = pd.Series(dtype="datetime64[s]")
    return frame[list(CANDIDATE_COLUMNS)]


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
    if config.orb.range_minutes % timeframe.minutes:
        raise ConfigError(
            f"orb.range_minutes={config.orb.range_minutes} is not a whole number of {timeframe.value} bars"
        )
    lookback_bars = max(config.ema_pullback.touch_lookback_bars, config.vwap_rejection.fresh_bars) + 2
    pre_open_minutes = max(30.0, lookback_bars * timeframe.minutes)
    ctx = build_context(bars, config.indicators, timeframe, pre_open_minutes)
    or_high, or_low = opening_range_edges(ctx, config.orb)  # the ORB setup and a feature share them
    found = [(setup, hits) for setup, hits in _detect_all(ctx, config, (or_high, or_low)) if hits.index.size]
    if not found:
        return _empty_frame()
    idx = np.concatenate([h.index for _, h in found])
    sign = np.concatenate([h.sign for _, h in found])
    level = np.concatenate([h.level for _, h in found])
    setup_code = np.concatenate([np.full(h.index.size, SETUP_ORDER.index(s)) for s, h in found])
    order = np.lexsort((-sign, setup_code, idx))
    idx, sign, level, setup_code = idx[order], sign[order], level[order], setup_code[order]
    s = sign.astype(np.float64)

    ts = pd.DatetimeIndex(pd.to_datetime(ctx.close_ns[idx], unit="ns", utc=True))
    wall_ns = ct_wall_ns(ctx.close_ns[idx])
    labels = _label_table(config.indicators.rth_end_min)[(wall_ns // NS_PER_MIN) % (24 * 60)]
    in_window = (labels == RTH_A.label) | (labels == RTH_B.label)
    pf_inputs = PrefilterInputs(
        sign=sign,
        open=ctx.open[idx],
        high=ctx.high[idx],
        low=ctx.low[idx],
        close=ctx.close[idx],
        level=level,
        ema_fast=ctx.ema_fast[idx],
        ema_slow=ctx.ema_slow[idx],
        ema_slope=ctx.ema_slope[idx],
        vwap=ctx.vwap[idx],
        atr_5m=ctx.atr_5m[idx],
        volume_multiple=ctx.volume_multiple[idx],
        in_window=np.asarray(in_window, dtype=bool),
    )
    total, points = score(pf_inputs, config.prefilter)
    wall = (wall_ns // 1_000_000_000).astype("datetime64[s]")
    setup_names = np.array([t.value for t in SETUP_ORDER], dtype=object)
    columns: dict[str, Any] = {
        "ts": ts,
        "bar_index": ctx.source_index[idx],
        "setup_type": setup_names[setup_code],
        "direction": np.where(sign > 0, Direction.LONG.value, Direction.SHORT.value).astype(object),
        "ref_entry": ctx.close[idx],
        "prefilter_score": total,
        "passed_prefilter": total >= config.prefilter.threshold,
        **points,
        "volume_multiple": ctx.volume_multiple[idx],
        "atr_5m": ctx.atr_5m[idx],
        "session_label": labels.astype(object),
        "trading_day": ctx.trading_day[idx],
        "timestamp_ct": np.datetime_as_string(wall, unit="s").astype(object),
        **_features(ctx, idx, s, level, or_high - or_low),
    }
    return pd.DataFrame({name: columns[name] for name in CANDIDATE_COLUMNS})


def _as_float(value: Any) -> float:
    return float(value) if value is not None else float("nan")


def candidate_from_row(row: Mapping[str, Any] | pd.Series) -> Candidate:
    """A `Candidate` from one row of `detect_candidates` (features: learning columns and pf_ points)."""
    features = {name: _as_float(row[name]) for name in (*FEATURE_COLUMNS, *PF_COLUMNS)}
    return Candidate(
        ts=pd.Timestamp(row["ts"]).to_pydatetime(),
        setup_type=SetupType(str(row["setup_type"])),
        direction=Direction(str(row["direction"])),
        ref_entry=float(row["ref_entry"]),
        prefilter_score=float(row["prefilter_score"]),
        volume_multiple=_as_float(row["volume_multiple"]),
        atr_5m=_as_float(row["atr_5m"]),
        session_label=str(row["session_label"]),
        trading_day=pd.Timestamp(row["trading_day"]).date(),
        features=features,
    )
