"""The embedded synthetic market: 1-minute MES bars of whole Globex days, deterministic by seed.

Shape (calibrated against real ES 1m bars, see docs/data.md for the side-by-side figures):

- sessions of the CME calendar: 17:00 CT the evening before to 16:00 CT (early closes honoured,
  weekends and holidays skipped), gaps at the session open (bigger after weekends);
- an intraday volatility and volume profile by time of day (quiet night, Europe at 02:00 CT, data at
  07:30 CT, the 08:30 CT open spike, a lunch lull, the 15:00 CT close), optional scheduled events;
- daily volatility as a persistent log-AR(1) process, day types (trend days: more volatility in RTH,
  range days: less), intraday volatility clustering (log-AR(1) per minute with a leverage term),
  Student-t shocks (fat tails);
- prices on the 0.25 tick, at an ES-like level; volume that rises with volatility.

It has no edge by construction: each minute's move is a symmetric draw scaled by a volatility known
from the past only, rounded to whole ticks (a symmetric rounding of a symmetric draw), so closes form a
martingale on the tick grid: no drift, no autocorrelation of signed returns. Trend and range days
differ in how far price travels, never in which way.

Determinism: each trading day draws from its own generator seeded by ``(seed, day ordinal)`` and the
filters are causal, so the bars of a day do not change when later days are generated too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.bars import BAR_COLUMNS, empty_bars
from mesdesk.calendar import session_hours, sessions_between, trading_day
from mesdesk.data.resample import resample
from mesdesk.errors import ConfigError, DataError
from mesdesk.timeframes import Timeframe

FloatArray = npt.NDArray[np.float64]

MINUTES_PER_SESSION = 23 * 60  # 17:00 CT to 16:00 CT
_NS_MIN = 60 * 1_000_000_000

# Half-hour buckets from 17:00 CT: volatility relative to the night and mean ES volume per minute,
# smoothed from real ES 1m bars (Sep-Oct 2025). The 08:30 and 14:50 spikes are added on top.
_VOL_BY_HALF_HOUR = (
    1.10, 0.95, 0.90, 0.88, 0.95, 0.90, 0.90, 0.85, 0.82, 0.80, 0.80, 0.80, 0.80, 0.78,  # 17:00-23:30
    0.85, 0.85, 1.05, 1.25, 1.55, 1.40, 1.30, 1.15, 1.12, 1.08, 1.12, 1.10, 1.30, 1.30,  # 00:00-06:30
    1.33, 1.50, 1.55, 2.60, 3.10, 3.00, 3.15, 2.95, 2.60, 2.35, 2.40, 2.50, 2.70, 2.60,  # 07:00-13:30
    2.70, 3.00, 1.00, 0.90,  # 14:00-15:30
)  # fmt: skip
_VOLUME_BY_HALF_HOUR = (
    120, 90, 76, 76, 100, 100, 100, 95, 77, 77, 69, 78, 69, 78,  # 17:00-23:30
    77, 81, 140, 180, 220, 250, 230, 230, 190, 170, 170, 180, 240, 260,  # 00:00-06:30
    360, 510, 770, 3040, 3460, 3090, 3250, 2890, 2270, 1930, 2200, 2260, 2420, 2310,  # 07:00-13:30
    2340, 2550, 1390, 1330,  # 14:00-15:30
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyntheticConfig:
    """Parameters of the synthetic market (defaults: calibrated to real ES; see docs/data.md).

    Volatilities are of log returns. `daily_vol_pct` is the mean daily (17:00-16:00 CT) volatility.
    """

    seed: int = 7
    start_price: float = 6000.0
    tick: float = 0.25
    daily_vol_pct: float = 0.75
    daily_vol_of_vol: float = 0.20
    daily_vol_persistence: float = 0.80
    trend_day_prob: float = 0.15
    trend_day_vol: float = 1.35
    range_day_prob: float = 0.25
    range_day_vol: float = 0.80
    tail_df: float = 5.0
    intraday_vol_of_vol: float = 0.35
    intraday_halflife_min: float = 60.0
    leverage: float = 0.04
    open_spike: float = 1.2
    open_spike_min: float = 6.0
    data_release_prob: float = 0.35
    fomc_prob: float = 0.032
    session_gap_vol: float = 0.08
    weekend_gap_vol: float = 0.30
    volume_scale: float = 1.0
    volume_noise: float = 0.45
    substeps: int = 6

    def __post_init__(self) -> None:
        if self.tail_df <= 2.0:
            raise ConfigError(f"tail_df={self.tail_df}: must exceed 2 (finite variance)")
        if not 0.0 <= self.daily_vol_persistence < 1.0:
            raise ConfigError(f"daily_vol_persistence={self.daily_vol_persistence}: must be in [0, 1)")
        if self.daily_vol_pct <= 0 or self.start_price <= 0 or self.tick <= 0:
            raise ConfigError("daily_vol_pct, start_price and tick must be positive")
        if self.substeps < 2:
            raise ConfigError(f"substeps={self.substeps}: at least 2 points per minute are needed")
        if self.trend_day_prob + self.range_day_prob > 1.0:
            raise ConfigError("trend_day_prob + range_day_prob must not exceed 1")


def _half_hour_curve(values: tuple[float, ...]) -> FloatArray:
    """Per-minute curve over the session: constant within each half hour (the open is a step, not a slope)."""
    return np.repeat(np.asarray(values, dtype=np.float64), 30)[:MINUTES_PER_SESSION]


def _spike(at_minute: int, height: float, decay_min: float) -> FloatArray:
    m = np.arange(MINUTES_PER_SESSION, dtype=np.float64) - at_minute
    return np.where(m >= 0, height * np.exp(-np.maximum(m, 0.0) / decay_min), 0.0)


_OPEN = 15 * 60 + 30  # 08:30 CT in minutes after 17:00 CT
_DATA = 14 * 60 + 30  # 07:30 CT
_FOMC = 20 * 60  # 13:00 CT
_CLOSE_RAMP = 21 * 60 + 50  # 14:50 CT


def intraday_profiles(config: SyntheticConfig) -> tuple[FloatArray, FloatArray]:
    """(volatility multiplier, mean volume) for each minute after 17:00 CT, 1380 values each."""
    vol = _half_hour_curve(_VOL_BY_HALF_HOUR) * (1.0 + _spike(_OPEN, config.open_spike, config.open_spike_min))
    volume = _half_hour_curve(_VOLUME_BY_HALF_HOUR) * (1.0 + _spike(_OPEN, 1.6, 12.0))
    ramp = np.zeros(MINUTES_PER_SESSION)
    ramp[_CLOSE_RAMP - 5 : _CLOSE_RAMP + 10] = np.linspace(0.3, 6.0, 15)  # into the 15:00 CT settlement
    volume = volume * (1.0 + ramp) * config.volume_scale
    return vol, volume


@dataclass(frozen=True, slots=True)
class _Day:
    day: date
    open_ns: int
    minutes: int
    after_weekend: bool
    log_vol: float
    day_mult: float
    events: FloatArray
    tau: FloatArray
    eps: FloatArray
    bridge: FloatArray
    vol_noise: FloatArray
    gap_z: float


def _draw_day(day: date, config: SyntheticConfig, previous: date | None) -> tuple[_Day, float]:
    """Random draws of one trading day; returns the day and its daily log-vol innovation."""
    hours = session_hours(day)
    if hours is None:  # pragma: no cover - sessions_between only yields trading days
        raise DataError(f"{day} has no session")
    rng = np.random.default_rng([config.seed, day.toordinal()])
    n = int((hours.close - hours.open).total_seconds() // 60)
    z_vol, u_type, gap_z, u_data, u_fomc = rng.standard_normal(), rng.random(), rng.standard_normal(), *rng.random(2)
    if u_type < config.trend_day_prob:
        mult = config.trend_day_vol
    elif u_type < config.trend_day_prob + config.range_day_prob:
        mult = config.range_day_vol
    else:
        mult = 1.0
    events = np.ones(MINUTES_PER_SESSION)
    if u_data < config.data_release_prob:
        events += _spike(_DATA, 2.5, 4.0)
    if u_fomc < config.fomc_prob:
        events += _spike(_FOMC, 4.0, 25.0)
    t_scale = np.sqrt((config.tail_df - 2.0) / config.tail_df)
    drawn = _Day(
        day=day,
        open_ns=int(pd.Timestamp(hours.open).value),
        minutes=n,
        after_weekend=previous is None or (day - previous).days > 1,
        log_vol=0.0,
        day_mult=mult,
        events=events[:n],
        tau=rng.standard_t(config.tail_df, n) * t_scale,
        eps=rng.standard_normal(n),
        bridge=rng.standard_normal((n, config.substeps)),
        vol_noise=rng.standard_normal(n),
        gap_z=float(gap_z),
    )
    return drawn, float(z_vol)


def _tick_round(points: FloatArray, tick: float) -> FloatArray:
    return np.asarray(np.round(points / tick) * tick, dtype=np.float64)


def _daily_log_vols(innovations: list[float], config: SyntheticConfig) -> FloatArray:
    """Daily log-volatility AR(1), started from its stationary law; mean daily vol = daily_vol_pct."""
    phi, eta = config.daily_vol_persistence, config.daily_vol_of_vol
    var = eta**2 / (1.0 - phi**2)
    mu = np.log(config.daily_vol_pct / 100.0) - var / 2.0
    z = np.asarray(innovations, dtype=np.float64)
    out = np.empty(z.size)
    state = np.sqrt(var) * z[0] if z.size else 0.0
    for i in range(z.size):
        if i:
            state = phi * state + eta * z[i]
        out[i] = mu + state
    return out


def _intraday_log_vol(days: list[_Day], config: SyntheticConfig) -> FloatArray:
    """Per-minute log-vol deviation: AR(1) with a leverage term (falls raise volatility), mean-corrected."""
    eps = np.concatenate([d.eps for d in days])
    tau = np.concatenate([d.tau for d in days])
    phi = 0.5 ** (1.0 / config.intraday_halflife_min)
    nu = config.intraday_vol_of_vol * np.sqrt(1.0 - phi**2)
    shock = nu * eps
    shock[1:] -= config.leverage * tau[:-1]
    from mesdesk.recursions import first_order  # numba: loaded when bars are generated

    h = first_order(np.asarray(shock, dtype=np.float64), 1.0, -phi)
    var = (nu**2 + config.leverage**2) / (1.0 - phi**2)
    return np.asarray(h - var, dtype=np.float64)  # E[exp(2h)] ~ 1: clustering without changing the level


def generate_bars(start: date, end: date, config: SyntheticConfig | None = None) -> pd.DataFrame:
    """1-minute bars of every CME trading day in [start, end] (mesdesk frame, UTC index = bar open)."""
    cfg = config or SyntheticConfig()
    sessions = sessions_between(start, end)
    if not sessions:
        return empty_bars()
    vol_prof, volume_prof = intraday_profiles(cfg)
    norm = float(np.sqrt(np.sum(vol_prof**2)))
    draws: list[_Day] = []
    innovations: list[float] = []
    previous: date | None = None
    for day in sessions:
        drawn, z = _draw_day(day, cfg, previous)
        draws.append(drawn)
        innovations.append(z)
        previous = day
    log_vols = _daily_log_vols(innovations, cfg)
    h = _intraday_log_vol(draws, cfg)
    return _build_frame(draws, log_vols, h, vol_prof, volume_prof, norm, cfg)


def _build_frame(
    draws: list[_Day],
    log_vols: FloatArray,
    h: FloatArray,
    vol_prof: FloatArray,
    volume_prof: FloatArray,
    norm: float,
    cfg: SyntheticConfig,
) -> pd.DataFrame:
    total = sum(d.minutes for d in draws)
    ts = np.empty(total, dtype=np.int64)
    cols = {k: np.empty(total) for k in ("open", "high", "low", "close")}
    volume = np.empty(total, dtype=np.int64)
    mean_mult = np.sqrt(
        cfg.trend_day_prob * cfg.trend_day_vol**2
        + cfg.range_day_prob * cfg.range_day_vol**2
        + (1.0 - cfg.trend_day_prob - cfg.range_day_prob)
    )
    k = cfg.substeps
    frac = np.arange(1, k + 1) / k
    last_close = cfg.start_price
    pos = 0
    for i, d in enumerate(draws):
        n = d.minutes
        sl = slice(pos, pos + n)
        level = last_close
        gap_vol = cfg.weekend_gap_vol if d.after_weekend else cfg.session_gap_vol
        start = last_close + float(
            _tick_round(np.array([d.gap_z * gap_vol * np.exp(log_vols[i]) * level]), cfg.tick)[0]
        )
        sigma = np.exp(log_vols[i]) * d.day_mult / mean_mult * vol_prof[:n] * d.events / norm * np.exp(h[sl])
        step_pts = sigma * level
        move = d.tau * step_pts  # exact move in points, symmetric given the past
        walk = np.cumsum(d.bridge, axis=1)
        bridge = (walk - frac * walk[:, -1:]) * (step_pts / np.sqrt(k))[:, None]
        path = _tick_round(frac * move[:, None] + bridge, cfg.tick)  # points from the previous close
        path[:, -1] = _tick_round(move, cfg.tick)
        close = start + np.cumsum(path[:, -1])
        prev = np.concatenate(([start], close[:-1]))
        cols["open"][sl] = prev + path[:, 0]
        cols["high"][sl] = prev + path.max(axis=1)
        cols["low"][sl] = prev + path.min(axis=1)
        cols["close"][sl] = close
        vol_ratio = np.exp(h[sl]) * d.events * d.day_mult * np.exp(log_vols[i]) / (cfg.daily_vol_pct / 100.0)
        noise = np.exp(cfg.volume_noise * d.vol_noise - cfg.volume_noise**2 / 2.0)
        v = volume_prof[:n] * vol_ratio**0.8 * noise * (0.6 + 0.5 * np.abs(d.tau))
        volume[sl] = np.maximum(np.rint(v), 1).astype(np.int64)
        ts[sl] = d.open_ns + np.arange(n, dtype=np.int64) * _NS_MIN
        last_close = float(close[-1])
        pos += n
    index = pd.DatetimeIndex(ts, tz="UTC", name="ts")
    frame = pd.DataFrame(cols, index=index)
    frame["volume"] = volume
    return frame[list(BAR_COLUMNS)]


def generate_days(
    n_days: int, config: SyntheticConfig | None = None, first_day: date = date(2025, 3, 3)
) -> pd.DataFrame:
    """The first `n_days` trading days from `first_day` (from the default, 6 days or more cross the March
    2025 DST change)."""
    if n_days < 1:
        raise ConfigError(f"days={n_days}: must be at least 1")
    sessions = sessions_between(first_day, first_day + timedelta(days=2 * n_days + 10))[:n_days]
    return generate_bars(sessions[0], sessions[-1], config)


@dataclass
class SyntheticSource:
    """A `BarSource` over the synthetic market, which starts at `origin` (17:00 CT the evening before).

    Bars are generated once up to the latest day asked for and kept; asking for a later window extends
    them without changing earlier bars. Any symbol name is accepted (the market is MES-like).
    """

    config: SyntheticConfig = field(default_factory=SyntheticConfig)
    origin: date = date(2025, 1, 2)
    _bars: pd.DataFrame | None = field(default=None, init=False, repr=False)
    _until: date | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"synthetic(seed={self.config.seed})"

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> pd.DataFrame:
        """Bars opening in [start, end) UTC, resampled from 1 minute when a higher timeframe is asked."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ConfigError("start and end must be timezone-aware")
        if timeframe is Timeframe.S1:
            raise ConfigError("timeframe=1s: the synthetic market is made of 1-minute bars")
        last = trading_day(end)
        if self._bars is None or self._until is None or last > self._until:
            self._bars = generate_bars(self.origin, last, self.config)
            self._until = last
        bars = self._bars
        if timeframe is not Timeframe.M1:
            bars = resample(bars, timeframe, source_span=pd.Timedelta(minutes=1))
        lo, hi = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
        return bars[(bars.index >= lo) & (bars.index < hi)]
