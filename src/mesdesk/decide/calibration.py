"""Calibration: stated confidence -> observed win rate, and the adaptive confidence threshold.

Only outcomes resolved strictly before the time asked about are used (`resolved_at < now`).

Method: bins of stated confidence (10 points wide) with shrinkage toward the pooled win rate,
calibrated = (wins + m * p_pooled) / (n + m), m = `prior_strength` pseudo-trades. Why: an LLM states
a handful of round values (70, 75, 80, 85, 90), with a few hundred resolved answers a quarter at
5 calls a day; isotonic regression overfits such small samples into flat steps at 0 or 1, and
Platt scaling forces a logistic shape the stated values do not follow. Shrinkage keeps a thin bin
near the pooled rate until it earns its own. Nothing applies before `min_samples` outcomes.

Adaptive threshold (seed: >= 85, adaptive 82-92). With w the win rate of the last 20 real trades
resolved before now (at least `min_trailing` of them, else the base):
    threshold = clip(base + slope * (target - w), low, high), rounded to 0.5,
base 85, target 0.80 (the seed's "80% win rate system"), slope 20 points per unit of win rate
(1 point per 5 percentage points), low 82, high 92. Below target the bar rises; above it falls.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd

from mesdesk.outcome import Outcome


class ConfidencePolicy(Protocol):
    """The threshold a stated confidence must reach at `now`, and its calibrated win rate (percent)."""

    def threshold(self, now: datetime) -> float: ...

    def calibrated(self, confidence: float, now: datetime) -> float | None: ...


@dataclass(frozen=True, slots=True)
class FixedThreshold:
    """A constant threshold (the seed's 85) and no calibration."""

    value: float = 85.0

    def threshold(self, now: datetime) -> float:
        return self.value

    def calibrated(self, confidence: float, now: datetime) -> float | None:
        return None


@dataclass(frozen=True, slots=True)
class CalibrationConfig:
    bin_width: int = 10
    prior_strength: float = 10.0
    min_samples: int = 30
    base_threshold: float = 85.0
    low_threshold: float = 82.0
    high_threshold: float = 92.0
    target_win_rate: float = 0.80
    slope_pts_per_unit: float = 20.0
    trailing: int = 20
    min_trailing: int = 10

    def __post_init__(self) -> None:
        if not self.low_threshold <= self.base_threshold <= self.high_threshold:
            raise ValueError("thresholds must satisfy low <= base <= high")
        if self.bin_width <= 0 or 100 % self.bin_width:
            raise ValueError(f"bin_width must divide 100, got {self.bin_width}")
        if self.min_trailing > self.trailing:
            raise ValueError("min_trailing cannot exceed trailing")


@dataclass(frozen=True, slots=True)
class ReliabilityRow:
    bin_low: int
    bin_high: int
    n: int
    stated_mean: float
    observed_win_rate: float
    calibrated: float


@dataclass(frozen=True, slots=True)
class Reliability:
    """The reliability table at a time, with Brier scores (probabilities in 0-1)."""

    rows: tuple[ReliabilityRow, ...]
    n: int
    pooled_win_rate: float
    brier_stated: float
    applies: bool
    threshold: float
    trailing_win_rate: float | None
    trailing_n: int


def _bin_of(confidence: float, width: int) -> int:
    return int(min(confidence, 99.999) // width) * width


class Calibration:
    """Point-in-time calibration and threshold; feed it outcomes as they resolve (`observe`)."""

    def __init__(self, config: CalibrationConfig | None = None) -> None:
        self.config = config or CalibrationConfig()
        self._by_key: dict[str, Outcome] = {}
        self._sorted: list[Outcome] = []
        self._times: list[datetime] = []

    def observe(self, outcomes: Iterable[Outcome]) -> None:
        """Add resolved outcomes (the same key again replaces the earlier record)."""
        changed = False
        for o in outcomes:
            if self._by_key.get(o.key) != o:
                self._by_key[o.key] = o
                changed = True
        if changed:
            self._sorted = sorted(self._by_key.values(), key=lambda o: (o.resolved_at, o.key))
            self._times = [o.resolved_at for o in self._sorted]

    def known(self, now: datetime) -> list[Outcome]:
        """Outcomes resolved strictly before `now`."""
        return self._sorted[: bisect.bisect_left(self._times, now)]

    def _answered(self, now: datetime) -> list[Outcome]:
        return [o for o in self.known(now) if o.confidence is not None]

    def trailing_win_rate(self, now: datetime) -> tuple[float | None, int]:
        taken = [o for o in self.known(now) if o.taken][-self.config.trailing :]
        if not taken:
            return None, 0
        return sum(o.win for o in taken) / len(taken), len(taken)

    def threshold(self, now: datetime) -> float:
        cfg = self.config
        rate, n = self.trailing_win_rate(now)
        if rate is None or n < cfg.min_trailing:
            return cfg.base_threshold
        raw = cfg.base_threshold + cfg.slope_pts_per_unit * (cfg.target_win_rate - rate)
        return round(min(cfg.high_threshold, max(cfg.low_threshold, raw)) * 2.0) / 2.0

    def calibrated(self, confidence: float, now: datetime) -> float | None:
        """Observed win rate (percent) for this stated confidence, or None before `min_samples`."""
        answered = self._answered(now)
        if len(answered) < self.config.min_samples:
            return None
        return _shrunk(answered, _bin_of(confidence, self.config.bin_width), self.config) * 100.0

    def reliability(self, now: datetime) -> Reliability:
        cfg = self.config
        answered = self._answered(now)
        rate, trailing_n = self.trailing_win_rate(now)
        n = len(answered)
        pooled = sum(o.win for o in answered) / n if n else math.nan
        rows = []
        for low in range(0, 100, cfg.bin_width):
            members = [o for o in answered if _bin_of(o.confidence or 0.0, cfg.bin_width) == low]
            if not members:
                continue
            wins = sum(o.win for o in members)
            rows.append(
                ReliabilityRow(
                    bin_low=low,
                    bin_high=low + cfg.bin_width,
                    n=len(members),
                    stated_mean=float(np.mean([o.confidence for o in members])),
                    observed_win_rate=wins / len(members) * 100.0,
                    calibrated=_shrunk(answered, low, cfg) * 100.0,
                )
            )
        brier = (
            float(np.mean([((o.confidence or 0.0) / 100.0 - float(o.win)) ** 2 for o in answered])) if n else math.nan
        )
        return Reliability(
            rows=tuple(rows),
            n=n,
            pooled_win_rate=pooled * 100.0 if n else math.nan,
            brier_stated=brier,
            applies=n >= cfg.min_samples,
            threshold=self.threshold(now),
            trailing_win_rate=None if rate is None else rate * 100.0,
            trailing_n=trailing_n,
        )


def _shrunk(answered: list[Outcome], low: int, cfg: CalibrationConfig) -> float:
    pooled = sum(o.win for o in answered) / len(answered)
    members = [o for o in answered if _bin_of(o.confidence or 0.0, cfg.bin_width) == low]
    wins = sum(o.win for o in members)
    return (wins + cfg.prior_strength * pooled) / (len(members) + cfg.prior_strength)


# ---------------------------------------------------------------- journals

_MODEL_ANSWERS = ("take", "skip")


def _utc(value: object) -> datetime | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if pd.isna(ts):
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").to_pydatetime()


def outcomes_from_journal(
    journal: pd.DataFrame, features_of: Callable[[Mapping[str, object]], Mapping[str, float]] | None = None
) -> list[Outcome]:
    """Resolved rows of an engine journal (exit known, pnl finite) as outcomes.

    A win is pnl_pts > 0 (net of costs); the stated confidence is kept only where the decider
    answered itself (decision take/skip), not where a fallback decided.
    """
    if journal.empty:
        return []
    required = {"ts", "exit_ts", "pnl_pts", "decision", "confidence"}
    missing = required - set(journal.columns)
    if missing:
        raise ValueError(f"journal lacks columns {sorted(missing)}")
    pnl_all = pd.to_numeric(journal["pnl_pts"], errors="coerce").to_numpy(dtype=float)
    journal = journal[pd.notna(journal["exit_ts"]).to_numpy() & np.isfinite(pnl_all)]
    out: list[Outcome] = []
    for row in journal.to_dict("records"):
        resolved = _utc(row.get("exit_ts"))
        pnl = row.get("pnl_pts")
        if resolved is None or not _finite(pnl):
            continue
        decided = _utc(row.get("decision_ts")) or _utc(row.get("ts"))
        if decided is None:
            continue
        conf = row.get("confidence")
        answered = row.get("decision") in _MODEL_ANSWERS and conf is not None and math.isfinite(float(conf))
        counterfactual = bool(row.get("counterfactual", False))
        key = f"{decided.isoformat()}|{row.get('setup', '')}|{row.get('direction', '')}|{row.get('ts')}"
        features = features_of({str(k): v for k, v in row.items()}) if features_of is not None else {}
        out.append(
            Outcome(
                key=key,
                decided_at=decided,
                resolved_at=resolved,
                pnl_pts=float(row["pnl_pts"]),
                counterfactual=counterfactual or _utc(row.get("entry_ts")) is None,
                setup=str(row.get("setup", "")),
                direction=str(row.get("direction", "")),
                session=str(row.get("session", "")),
                confidence=float(conf) if answered and conf is not None else None,
                source=str(row.get("decision_source", "")),
                features=features,
            )
        )
    return out


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
