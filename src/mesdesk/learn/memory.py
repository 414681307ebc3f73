"""Learning memory: fingerprints and hard negatives fed only with outcomes already resolved.

`LearningMemory` is told about outcomes as soon as they are computed (`add`), but an outcome joins
the statistics only when the memory's clock passes its `resolved_at` (`advance`). Every query
takes `now` and advances first, and `now` may never go backwards, so a decision at t sees exactly
the outcomes resolved at or before t, in backtest and live alike.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mesdesk.learn.fingerprints import (
    FingerprintConfig,
    FingerprintStats,
    fingerprint_id,
    fingerprint_key,
    parent_key,
)
from mesdesk.learn.negatives import NegativeConfig, NegativeIndex, NegativeMatch
from mesdesk.outcome import Outcome


@dataclass(frozen=True, slots=True)
class LearningConfig:
    fingerprints: FingerprintConfig = field(default_factory=FingerprintConfig)
    negatives: NegativeConfig = field(default_factory=NegativeConfig)
    veto_blocked: bool = True
    backoff: bool = True
    trailing_window: int = 20


@dataclass(frozen=True, slots=True)
class Assessment:
    """What learning says of one candidate at decision time."""

    fingerprint_id: str
    fingerprint_key: str
    status: str
    samples: int
    win_rate: float
    expectancy: float
    negative: NegativeMatch | None
    veto: bool
    score_adjustment: float
    reason: str

    def as_memory(self) -> dict[str, object]:
        """The compact form put in `DecisionContext.memory` and the journal."""
        out: dict[str, object] = {
            "fingerprint_id": self.fingerprint_id,
            "fingerprint_status": self.status,
            "fingerprint_samples": self.samples,
            "fingerprint_win_rate": round(self.win_rate, 1),
            "fingerprint_expectancy": round(self.expectancy, 4),
            "learning_veto": self.veto,
            "learning_reason": self.reason,
        }
        if self.negative is not None:
            out["negative_match"] = self.negative.nearest_loss_key
            out["negative_neighbors"] = self.negative.neighbors
            out["negative_mean_pts"] = round(self.negative.mean_pnl_pts, 4)
        return out


class LearningMemory:
    """Point-in-time fingerprint statistics and hard negatives."""

    def __init__(self, config: LearningConfig | None = None) -> None:
        self.config = config or LearningConfig()
        self._pending: list[tuple[datetime, int, Outcome]] = []
        self._seq = itertools.count()
        self._stats: dict[str, FingerprintStats] = {}
        self._negatives = NegativeIndex(self.config.negatives)
        self._trailing: deque[bool] = deque(maxlen=self.config.trailing_window)
        self._now: datetime | None = None
        self._seen: set[str] = set()

    @property
    def now(self) -> datetime | None:
        return self._now

    def add(self, outcome: Outcome) -> None:
        """Register an outcome; it counts once the clock reaches its `resolved_at`. Duplicates are ignored."""
        ident = f"{outcome.key}|{int(outcome.counterfactual)}"
        if ident in self._seen:
            return
        self._seen.add(ident)
        heapq.heappush(self._pending, (outcome.resolved_at, next(self._seq), outcome))

    def extend(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            self.add(o)

    def advance(self, now: datetime) -> int:
        """Move the clock to `now`, absorbing outcomes resolved at or before it; returns how many."""
        if now.tzinfo is None:
            raise ValueError(f"naive time {now}")
        if self._now is not None and now < self._now:
            raise ValueError(f"learning clock must not go back: {now} < {self._now}")
        self._now = now
        absorbed = 0
        while self._pending and self._pending[0][0] <= now:
            _, _, o = heapq.heappop(self._pending)
            self._absorb(o)
            absorbed += 1
        return absorbed

    def _absorb(self, o: Outcome) -> None:
        feats = dict(o.features)
        key = fingerprint_key(o.setup, o.direction, o.session, feats, self.config.fingerprints)
        self._stats.setdefault(key, FingerprintStats(key)).add(o.pnl_pts, o.resolved_at)
        parent = parent_key(o.setup, o.direction, o.session)
        self._stats.setdefault(parent, FingerprintStats(parent)).add(o.pnl_pts, o.resolved_at)
        self._negatives.add(o.setup, o.direction, o.key, feats, o.pnl_pts)
        if not o.counterfactual:
            self._trailing.append(o.win)

    def assess(
        self, now: datetime, setup: str, direction: str, session: str, features: Mapping[str, float]
    ) -> Assessment:
        """Learning's view of a candidate seen at `now` (advances the clock first)."""
        self.advance(now)
        cfg = self.config
        key = fingerprint_key(setup, direction, session, features, cfg.fingerprints)
        stats = self._stats.get(key) or FingerprintStats(key)
        status = stats.status(cfg.fingerprints)
        # Too few outcomes in the fine fingerprint: back off to its parent (setup, direction, session).
        judged = stats
        if cfg.backoff and status == "probation":
            parent = parent_key(setup, direction, session)
            judged = self._stats.get(parent) or FingerprintStats(parent)
        negative = self._negatives.match(setup, direction, features)
        veto, adjust, reasons = False, 0.0, []
        if cfg.veto_blocked and judged.status(cfg.fingerprints) == "blocked":
            veto = True
            reasons.append(
                f"fingerprint {fingerprint_id(judged.key)} blocked ({judged.samples} samples, "
                f"expectancy {judged.expectancy:+.2f} pts)"
            )
        if negative is not None:
            reasons.append(
                f"near hard negative {negative.nearest_loss_key} ({negative.neighbors} neighbours, "
                f"mean {negative.mean_pnl_pts:+.2f} pts)"
            )
            if cfg.negatives.action == "veto":
                veto = True
            else:
                adjust = -cfg.negatives.markdown_points
        return Assessment(
            fingerprint_id=fingerprint_id(key),
            fingerprint_key=key,
            status=status,
            samples=stats.samples,
            win_rate=stats.win_rate,
            expectancy=stats.expectancy,
            negative=negative,
            veto=veto,
            score_adjustment=adjust,
            reason="; ".join(reasons) or "no objection",
        )

    def trailing_win_rate(self) -> float | None:
        """Win rate (0-1) of the last `trailing_window` real (not counterfactual) resolved trades."""
        return sum(self._trailing) / len(self._trailing) if self._trailing else None

    def fingerprints(self) -> list[dict[str, object]]:
        """All fingerprints with their status, most samples first (the /metrics/fingerprints rows)."""
        rows = [s.as_dict(self.config.fingerprints) for s in self._stats.values()]
        rows.sort(key=lambda r: (-int(r["samples"]), str(r["fingerprint_id"])))  # type: ignore[call-overload]
        return rows

    @property
    def resolved_count(self) -> int:
        return len(self._negatives)
