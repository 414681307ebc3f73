"""Fingerprints: a stable key from a candidate's setup, direction, session and bucketed features.

Key (documented contract, stable across versions unless the config changes):
``setup|direction|session|pf<b>|vm<b>|atr<b>|vw<b>|em<b>|t<b>`` where each ``<b>`` is the bucket
index of: prefilter score, volume multiple, ATR regime (5m ATR in basis points of price), distance
to VWAP and to the 20 EMA in ATRs signed toward the trade (positive = price on the trade's side),
and minutes since the 08:30 CT open. A missing (NaN) feature has bucket ``x``.
Each outcome also counts toward its parent ``setup|direction|session``. While a fine fingerprint is in
probation, the veto decision backs off to the parent's status (both are listed).
The short id shown by /metrics/fingerprints is ``<setup abbreviation>_<6 hex of sha1(key)>``.

Status ladder (expectancy in points, net of costs, with a 95% Student-t interval):
- ``probation``: fewer than `min_samples` outcomes;
- ``blocked``: the interval's upper bound is below 0 (it loses, and we are 95% sure);
- ``gold``: at least `gold_samples` outcomes and the interval's lower bound is above 0;
- ``active``: everything else.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mesdesk.learn.stats import t_quantile

_ABBR = {"ORB_retest_go": "orb", "EMA20_pullback": "ema", "VWAP_rejection": "vwap"}


@dataclass(frozen=True, slots=True)
class FingerprintConfig:
    """Bucket edges (ascending) for each feature, and the status ladder's sample sizes."""

    prefilter_edges: tuple[float, ...] = (80.0, 90.0)
    volume_multiple_edges: tuple[float, ...] = (1.0, 2.0)
    atr_bps_edges: tuple[float, ...] = (5.0, 10.0)
    dist_vwap_edges: tuple[float, ...] = (-0.5, 0.5)
    dist_ema_edges: tuple[float, ...] = (-0.5, 0.5)
    minutes_edges: tuple[float, ...] = (30.0, 120.0)
    min_samples: int = 10
    gold_samples: int = 20

    def __post_init__(self) -> None:
        for name in (
            "prefilter_edges",
            "volume_multiple_edges",
            "atr_bps_edges",
            "dist_vwap_edges",
            "dist_ema_edges",
            "minutes_edges",
        ):
            edges = getattr(self, name)
            if list(edges) != sorted(edges):
                raise ValueError(f"FingerprintConfig.{name} must be ascending, got {edges}")
        if not 2 <= self.min_samples <= self.gold_samples:
            raise ValueError("need 2 <= min_samples <= gold_samples")


def _bucket(value: float | None, edges: tuple[float, ...]) -> str:
    if value is None or not math.isfinite(value):
        return "x"
    return str(sum(value >= e for e in edges))


def fingerprint_key(
    setup: str,
    direction: str,
    session: str,
    features: Mapping[str, float],
    config: FingerprintConfig,
) -> str:
    """The fingerprint key of a candidate (see the module docstring)."""
    f = features.get
    atr = f("atr_5m")
    price = f("ref_entry")
    atr_bps = atr / price * 1e4 if atr is not None and price else None
    parts = (
        setup,
        direction,
        session,
        "pf" + _bucket(f("prefilter_score"), config.prefilter_edges),
        "vm" + _bucket(f("volume_multiple"), config.volume_multiple_edges),
        "atr" + _bucket(atr_bps, config.atr_bps_edges),
        "vw" + _bucket(f("dist_vwap_atr"), config.dist_vwap_edges),
        "em" + _bucket(f("dist_ema_atr"), config.dist_ema_edges),
        "t" + _bucket(f("minutes_since_open"), config.minutes_edges),
    )
    return "|".join(parts)


def parent_key(setup: str, direction: str, session: str) -> str:
    """The coarse fingerprint (setup, direction, session) a fine one backs off to while in probation."""
    return f"{setup}|{direction}|{session}"


def fingerprint_id(key: str) -> str:
    """Short stable id, e.g. ``orb_3fa2c1``."""
    setup = key.split("|", 1)[0]
    return f"{_ABBR.get(setup, setup.lower()[:4])}_{hashlib.sha1(key.encode()).hexdigest()[:6]}"  # noqa: S324


@dataclass(slots=True)
class FingerprintStats:
    """Running statistics of one fingerprint's outcomes (pnl in points, net of costs)."""

    key: str
    samples: int = 0
    wins: int = 0
    sum_pts: float = 0.0
    sumsq_pts: float = 0.0
    last_seen: datetime | None = None

    def add(self, pnl_pts: float, at: datetime) -> None:
        self.samples += 1
        self.wins += pnl_pts > 0.0
        self.sum_pts += pnl_pts
        self.sumsq_pts += pnl_pts * pnl_pts
        if self.last_seen is None or at > self.last_seen:
            self.last_seen = at

    @property
    def fingerprint_id(self) -> str:
        return fingerprint_id(self.key)

    @property
    def win_rate(self) -> float:
        """Percent, 0-100 (0 with no samples)."""
        return 100.0 * self.wins / self.samples if self.samples else 0.0

    @property
    def expectancy(self) -> float:
        return self.sum_pts / self.samples if self.samples else 0.0

    def expectancy_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Student-t interval of the mean pnl; infinite with fewer than two samples."""
        n = self.samples
        if n < 2:
            return (-math.inf, math.inf)
        mean = self.sum_pts / n
        var = max(self.sumsq_pts - n * mean * mean, 0.0) / (n - 1)
        half = t_quantile(0.5 + level / 2, n - 1) * math.sqrt(var / n)
        return (mean - half, mean + half)

    def status(self, config: FingerprintConfig) -> str:
        if self.samples < config.min_samples:
            return "probation"
        low, high = self.expectancy_interval()
        if high < 0.0:
            return "blocked"
        if self.samples >= config.gold_samples and low > 0.0:
            return "gold"
        return "active"

    def as_dict(self, config: FingerprintConfig) -> dict[str, object]:
        """The seed's /metrics/fingerprints fields plus the interval and last-seen time."""
        low, high = self.expectancy_interval()
        return {
            "setup": self.key.split("|", 1)[0],
            "fingerprint_id": self.fingerprint_id,
            "status": self.status(config),
            "samples": self.samples,
            "win_rate": round(self.win_rate, 1),
            "expectancy": round(self.expectancy, 4),
            "expectancy_low": None if math.isinf(low) else round(low, 4),
            "expectancy_high": None if math.isinf(high) else round(high, 4),
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "key": self.key,
        }
