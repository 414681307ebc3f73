"""Resolved outcomes: what learning may know, and from when.

An outcome is a candidate followed with the bracket to its exit, whether it was taken (real) or
skipped/refused (counterfactual, as if taken). It becomes known at `resolved_at` (the exit time);
learning that decides at time t sees only outcomes with `resolved_at <= t`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """One candidate's result. `pnl_pts` is net of costs; `win` is pnl_pts > 0.

    `counterfactual` is True when the position was not really held (skipped, refused or vetoed, its
    bracket simulated as if taken); learning and calibration both read this one type.
    """

    key: str
    setup: str
    direction: str
    session: str
    decided_at: datetime
    resolved_at: datetime
    pnl_pts: float
    counterfactual: bool
    features: Mapping[str, float] = field(default_factory=dict)
    confidence: float | None = None  # the decider's stated confidence (None: no model answered)
    source: str = ""  # who decided (the journal's decision_source)

    def __post_init__(self) -> None:
        if self.decided_at.tzinfo is None or self.resolved_at.tzinfo is None:
            raise ValueError(f"outcome {self.key}: times must be timezone-aware")
        if self.resolved_at < self.decided_at:
            raise ValueError(f"outcome {self.key}: resolved before it was decided")
        if not math.isfinite(self.pnl_pts):
            raise ValueError(f"outcome {self.key}: pnl_pts must be finite")

    @property
    def win(self) -> bool:
        return self.pnl_pts > 0.0

    @property
    def taken(self) -> bool:
        return not self.counterfactual
