"""The local decider: no key, no network. A point-in-time logistic model with a rule-based start.

- Before enough history (`min_train` resolved outcomes with at least `min_per_class` wins and
  losses), a rule decides: take when the prefilter score and the volume multiple clear their bars.
- Then a logistic regression (median imputation, standardisation, L2) on the candidate features
  predicts P(win) = P(net pnl > 0). It is refitted at most once per CME trading day, at the first
  decision of the day, from outcomes resolved strictly before that decision (`observe` feeds them;
  the model never sees an outcome resolved after the time it decides at).
- A candidate that learning marks as a hard negative (`memory[key]["hard_negative"]`) is skipped.

`confidence` is P(win) in percent for the model (the prefilter score for the rule, which has no
probability: its reason says "rule"). It is the default decider without a key, and the fallback.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.decide.calibration import outcomes_from_journal
from mesdesk.decider import DecisionContext
from mesdesk.model import Candidate, Decision, DecisionStatus, SetupType
from mesdesk.outcome import Outcome

BASE_FEATURES = ("prefilter_score", "volume_multiple", "atr_5m", "dir_sign", "rth_b")
SETUP_FEATURES = tuple(f"setup_{s.value}" for s in SetupType)


@dataclass(frozen=True, slots=True)
class LocalDeciderConfig:
    min_train: int = 40
    min_per_class: int = 8
    max_train: int = 3000
    min_win_prob: float = 0.5
    l2_c: float = 0.5
    rule_min_score: float = 80.0
    rule_min_volume_multiple: float = 1.2
    feature_coverage: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 < self.min_win_prob < 1.0:
            raise ValueError(f"min_win_prob must be in (0, 1), got {self.min_win_prob}")
        if self.min_train < 2 * self.min_per_class:
            raise ValueError("min_train must be at least twice min_per_class")


def _flags(setup: str, direction: str, session: str) -> dict[str, float]:
    out = {f"setup_{s.value}": float(setup == s.value) for s in SetupType}
    out["dir_sign"] = 1.0 if direction == "long" else -1.0
    out["rth_b"] = float(session == "rth_b")
    return out


def candidate_features(candidate: Candidate) -> dict[str, float]:
    """The numbers the local model reads for one candidate (all known at its `ts`)."""
    out = {k: float(v) for k, v in candidate.features.items()}
    out.update(
        prefilter_score=candidate.prefilter_score,
        volume_multiple=candidate.volume_multiple,
        atr_5m=candidate.atr_5m,
        **_flags(str(candidate.setup_type), candidate.direction.value, candidate.session_label),
    )
    return out


_NOT_FEATURES = frozenset(
    {"ref_entry", "entry_price", "exit_price", "pnl_pts", "gross_pts", "commission_pts", "time_to_target"}
    | {"mae", "mfe", "confidence", "bar_index", "calibrated", "input_tokens", "output_tokens", "cost_usd"}
    | {"latency_ms"}
)


def journal_row_features(row: Mapping[str, object]) -> dict[str, float]:
    """The same features read back from a journal row (candidate columns; outcome columns excluded)."""
    out: dict[str, float] = {}
    for name, value in row.items():
        if name in _NOT_FEATURES or isinstance(value, bool) or not isinstance(value, int | float | np.number):
            continue
        out[str(name)] = float(value)
    out.update(_flags(str(row.get("setup", "")), str(row.get("direction", "")), str(row.get("session_label", ""))))
    return out


def local_outcomes_from_journal(journal: pd.DataFrame) -> list[Outcome]:
    """Resolved journal rows with the local model's features."""
    return outcomes_from_journal(journal, features_of=journal_row_features)


def _hard_negative(memory: Mapping[str, object] | None) -> str | None:
    if not memory:
        return None
    flag = memory.get("hard_negative")
    if flag:
        return str(memory.get("hard_negative_id") or memory.get("hard_negative_reason") or "matched")
    return None


class LocalDecider:
    """Point-in-time local model; call `observe(outcomes)` as outcomes resolve."""

    name = "local"

    def __init__(self, config: LocalDeciderConfig | None = None) -> None:
        self.config = config or LocalDeciderConfig()
        self._by_key: dict[str, Outcome] = {}
        self._sorted: list[Outcome] = []
        self._times: list[datetime] = []
        self._model: Any = None  # a fitted sklearn Pipeline
        self._columns: tuple[str, ...] = ()
        self._fit_day: date | None = None
        self._fit_n = 0

    # ------------------------------------------------------------ learning hooks

    def observe(self, outcomes: Iterable[Outcome]) -> None:
        """Add resolved outcomes (same key replaces); they are used only after their `resolved_at`."""
        changed = False
        for o in outcomes:
            if self._by_key.get(o.key) != o:
                self._by_key[o.key] = o
                changed = True
        if changed:
            self._sorted = sorted(self._by_key.values(), key=lambda o: (o.resolved_at, o.key))
            self._times = [o.resolved_at for o in self._sorted]

    def observe_journal(self, journal: pd.DataFrame) -> None:
        self.observe(local_outcomes_from_journal(journal))

    def refit(self, now: datetime) -> bool:
        """Fit on outcomes resolved strictly before `now`; False (rule stays) when history is too thin."""
        cfg = self.config
        known = self._sorted[: bisect.bisect_left(self._times, now)][-cfg.max_train :]
        self._fit_day = trading_day(now)
        wins = sum(o.win for o in known)
        if len(known) < cfg.min_train or min(wins, len(known) - wins) < cfg.min_per_class:
            self._model, self._columns, self._fit_n = None, (), len(known)
            return False
        counts: dict[str, int] = {}
        for o in known:
            for k, v in o.features.items():
                if math.isfinite(v):
                    counts[k] = counts.get(k, 0) + 1
        columns = tuple(sorted(k for k, n in counts.items() if n >= cfg.feature_coverage * len(known)))
        if not columns:
            self._model, self._columns, self._fit_n = None, (), len(known)
            return False
        from sklearn.impute import SimpleImputer  # imported on first fit: it takes seconds
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x = np.array([[o.features.get(c, math.nan) for c in columns] for o in known], dtype=float)
        y = np.array([int(o.win) for o in known])
        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=cfg.l2_c, max_iter=500),
        )
        model.fit(x, y)
        self._model, self._columns, self._fit_n = model, columns, len(known)
        return True

    @property
    def fitted(self) -> bool:
        return self._model is not None

    # ------------------------------------------------------------ deciding

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        if not candidates:
            return []
        if self._fit_day != trading_day(context.now):
            self.refit(context.now)
        probs = self._predict(candidates) if self._model is not None else None
        out = []
        for i, c in enumerate(candidates):
            negative = _hard_negative(context.memory.get(c.key))
            if probs is not None:
                p = float(probs[i])
                take = p >= self.config.min_win_prob
                conf = round(p * 100.0, 1)
                reason = (
                    f"model P(win)={p:.2f} {'>=' if take else '<'} {self.config.min_win_prob:.2f} (n={self._fit_n})"
                )
            else:
                take, conf, reason = self._rule(c)
            if negative is not None and take:
                take, reason = False, f"hard negative {negative}; {reason}"
            out.append(
                Decision(
                    take=take,
                    confidence=conf,
                    reason=reason,
                    source=self.name,
                    status=DecisionStatus.TAKE if take else DecisionStatus.SKIP,
                )
            )
        return out

    def _predict(self, candidates: Sequence[Candidate]) -> np.ndarray:
        assert self._model is not None
        rows = [candidate_features(c) for c in candidates]
        x = np.array([[r.get(col, math.nan) for col in self._columns] for r in rows], dtype=float)
        probs: np.ndarray = self._model.predict_proba(x)[:, 1]
        return probs

    def _rule(self, c: Candidate) -> tuple[bool, float, str]:
        cfg = self.config
        vol_ok = math.isfinite(c.volume_multiple) and c.volume_multiple >= cfg.rule_min_volume_multiple
        score_ok = c.prefilter_score >= cfg.rule_min_score
        take = score_ok and vol_ok
        reason = (
            f"rule (no history, n={self._fit_n}): prefilter {c.prefilter_score:.0f} "
            f"{'>=' if score_ok else '<'} {cfg.rule_min_score:.0f}, volume x{c.volume_multiple:.2f} "
            f"{'>=' if vol_ok else '<'} {cfg.rule_min_volume_multiple:.2f}"
        )
        return take, float(c.prefilter_score), reason
