"""Prefilter: a confluence score 0-100 for each candidate, from named components.

Each component is a number in 0..1 (``pf_<name>`` in the candidate frame holds its points, i.e.
the component times its weight); the score is their sum. Weights add up to 100, so a candidate
missing the whole trend component (25) reaches the default threshold of 75 only when every other
component is full.
Unknown inputs (NaN volume multiple or ATR) earn no points: the prefilter never guesses in a
candidate's favour. See docs/setups.md for why each weight is what it is.

Components (``sign`` is +1 long, -1 short; ATR is `atr_5m` in points):

- ``trend`` (25): share of three checks that agree with the direction: the fast EMA's slope over
  `slope_bars`, fast EMA against slow EMA, close against session VWAP.
- ``volume`` (20): volume multiple (volume over the same minute's mean of the last 20 trading days),
  0 at or below `volume_low`, 1 at or above `volume_high`, linear between.
- ``location`` (20): distance from the close to the setup's level (OR edge, EMA, VWAP) in ATRs:
  1 within `near_atr`, 0 beyond `far_atr`, linear between (an entry far from its level is a chase).
- ``atr_regime`` (15): `atr_5m` in the band where a 1.25-point target and a 0.75-point stop make
  sense: 1 inside [`atr_low`, `atr_high`], falling linearly to 0 at `atr_min` and `atr_max`.
- ``time`` (10): 1 when the decision time is inside the seed's windows (rth_a 08:30-10:30 CT,
  rth_b 13:00-15:00 CT), 0 otherwise.
- ``bar_quality`` (10): body of the completing bar in the trade's direction over its range (0..1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mesdesk.errors import ConfigError

FloatArray = npt.NDArray[np.float64]

COMPONENTS = ("trend", "volume", "location", "atr_regime", "time", "bar_quality")
PF_COLUMNS = tuple(f"pf_{name}" for name in COMPONENTS)


@dataclass(frozen=True, slots=True)
class PrefilterConfig:
    """Weights (summing to 100), the pass threshold and the ramps of each component."""

    threshold: float = 75.0
    w_trend: float = 25.0
    w_volume: float = 20.0
    w_location: float = 20.0
    w_atr_regime: float = 15.0
    w_time: float = 10.0
    w_bar_quality: float = 10.0
    volume_low: float = 0.8
    volume_high: float = 1.5
    near_atr: float = 0.25
    far_atr: float = 1.5
    atr_min: float = 0.5
    atr_low: float = 1.0
    atr_high: float = 4.0
    atr_max: float = 8.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 100.0:
            raise ConfigError(f"prefilter.threshold must be in 0..100, got {self.threshold}")
        weights = self.weights
        if any(w < 0 for w in weights.values()):
            raise ConfigError(f"prefilter weights must be >= 0, got {dict(weights)}")
        if abs(sum(weights.values()) - 100.0) > 1e-9:
            raise ConfigError(f"prefilter weights must sum to 100, got {sum(weights.values()):g}")
        if not self.volume_low < self.volume_high:
            raise ConfigError("prefilter.volume_low must be below prefilter.volume_high")
        if not 0 <= self.near_atr < self.far_atr:
            raise ConfigError("prefilter.near_atr must be >= 0 and below prefilter.far_atr")
        if not 0 <= self.atr_min < self.atr_low <= self.atr_high < self.atr_max:
            raise ConfigError("prefilter ATR band needs atr_min < atr_low <= atr_high < atr_max")

    @property
    def weights(self) -> Mapping[str, float]:
        return {name: float(getattr(self, f"w_{name}")) for name in COMPONENTS}


@dataclass(frozen=True, slots=True)
class PrefilterInputs:
    """Per-candidate inputs, all known at the decision time (arrays of equal length)."""

    sign: npt.NDArray[np.int64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    level: FloatArray
    ema_fast: FloatArray
    ema_slow: FloatArray
    ema_slope: FloatArray
    vwap: FloatArray
    atr_5m: FloatArray
    volume_multiple: FloatArray
    in_window: npt.NDArray[np.bool_]


def _ramp_up(x: FloatArray, lo: float, hi: float) -> FloatArray:
    """0 at or below `lo`, 1 at or above `hi`, linear between; NaN -> 0."""
    out = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return np.where(np.isfinite(out), out, 0.0)


def _agrees(x: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(x) & (x > 0), 1.0, 0.0)


def components(inputs: PrefilterInputs, config: PrefilterConfig) -> dict[str, FloatArray]:
    """Each component in 0..1, by name (see the module docstring)."""
    s = inputs.sign.astype(np.float64)
    a = inputs.atr_5m
    trend = (
        _agrees(s * inputs.ema_slope)
        + _agrees(s * (inputs.ema_fast - inputs.ema_slow))
        + _agrees(s * (inputs.close - inputs.vwap))
    ) / 3.0
    with np.errstate(invalid="ignore", divide="ignore"):
        dist_atr = np.abs(inputs.close - inputs.level) / np.where(a > 0, a, np.nan)
        location = 1.0 - _ramp_up(dist_atr, config.near_atr, config.far_atr)
        location = np.where(np.isfinite(dist_atr), location, 0.0)
        regime = np.minimum(
            _ramp_up(a, config.atr_min, config.atr_low), 1.0 - _ramp_up(a, config.atr_high, config.atr_max)
        )
        regime = np.where(np.isfinite(a), regime, 0.0)
        rng = inputs.high - inputs.low
        body = np.where(rng > 0, s * (inputs.close - inputs.open) / np.where(rng > 0, rng, 1.0), 0.0)
    return {
        "trend": trend,
        "volume": _ramp_up(inputs.volume_multiple, config.volume_low, config.volume_high),
        "location": location,
        "atr_regime": regime,
        "time": inputs.in_window.astype(np.float64),
        "bar_quality": np.clip(body, 0.0, 1.0),
    }


def score(inputs: PrefilterInputs, config: PrefilterConfig) -> tuple[FloatArray, dict[str, FloatArray]]:
    """The score (0-100) and each component's points (``pf_<name>``: component x weight)."""
    parts = components(inputs, config)
    weights = config.weights
    points = {f"pf_{name}": parts[name] * weights[name] for name in COMPONENTS}
    total = np.zeros(inputs.sign.size)
    for values in points.values():
        total = total + values
    return np.clip(total, 0.0, 100.0), points
