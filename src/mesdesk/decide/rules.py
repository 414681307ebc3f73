"""The rule decider: take every candidate that passed the prefilter. It states no confidence.

It needs no key and no network, so the engine runs end to end offline; the LLM and learning
deciders plug into the same `Decider` protocol. The prefilter score is not a probability, so it is
not passed off as one: the seed's confidence gate (>= 85) applies to model answers only, and every
rule decision's reason says it did not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mesdesk.decider import DecisionContext
from mesdesk.model import Candidate, Decision, DecisionStatus

NO_GATE = "no confidence stated: the confidence gate does not apply"


class RuleDecider:
    """Take when `prefilter_score >= threshold` (default 75), else skip.

    `needs_bars = False` tells the engine this decider never reads `context.recent_bars`.
    """

    needs_bars = False

    def __init__(self, threshold: float = 75.0) -> None:
        if not 0.0 <= threshold <= 100.0:
            raise ValueError(f"threshold must be in 0..100, got {threshold}")
        self.threshold = threshold
        # One Decision per distinct answer (it is frozen): a backtest asks for thousands of scores that
        # round to a few dozen reasons, and building the Decision was most of the engine's answer step.
        self._answers: dict[tuple[str, bool, float], Decision] = {}

    @property
    def name(self) -> str:
        return "rules"

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        return [self.decide_score(c.prefilter_score) for c in candidates]

    def decide_score(self, score: float) -> Decision:
        """The answer for a candidate of prefilter score `score` (nothing else is read)."""
        take = bool(score >= self.threshold)
        key = (f"{score:.0f}", take, self.threshold)
        answer = self._answers.get(key)
        if answer is None:
            sign = ">=" if take else "<"
            answer = Decision(
                take=take,
                confidence=None,
                reason=f"prefilter {key[0]} {sign} {self.threshold:.0f}; {NO_GATE}",
                source=self.name,
                status=DecisionStatus.TAKE if take else DecisionStatus.SKIP,
            )
            self._answers[key] = answer
        return answer

    def decide_scores(self, scores: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
        """`take` of `decide_score` for many scores, and the rank the engine picks among takes by
        (the stated confidence, here none: the score)."""
        values = np.asarray(scores, dtype=np.float64)
        return values >= self.threshold, values.copy()
