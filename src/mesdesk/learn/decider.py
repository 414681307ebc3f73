"""A decider that consults learning before the base decider sees a candidate.

For each candidate, `LearningMemory.assess` (point-in-time: only outcomes resolved by the decision
time) gives the fingerprint's status and any hard-negative match. A vetoed candidate is answered
here (`source="learning"`, status skip, the reason names the blocked fingerprint or the matched
negative) and never costs a model call; a marked-down candidate reaches the base decider with its
prefilter score lowered; every candidate the base decider sees carries learning's view in
`DecisionContext.memory[candidate.key]` (for the LLM prompt and the local model's features).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mesdesk.decider import Decider, DecisionContext
from mesdesk.learn.memory import Assessment, LearningMemory
from mesdesk.model import Candidate, Decision, DecisionStatus


def candidate_features(c: Candidate) -> dict[str, float]:
    return {
        **dict(c.features),
        "prefilter_score": c.prefilter_score,
        "volume_multiple": c.volume_multiple,
        "atr_5m": c.atr_5m,
        "ref_entry": c.ref_entry,
    }


class LearningDecider:
    """Wrap `base` with learning's vetoes and notes."""

    def __init__(self, base: Decider, memory: LearningMemory) -> None:
        self.base = base
        self.memory = memory
        self.assessments: dict[str, Assessment] = {}

    @property
    def name(self) -> str:
        return f"{self.base.name}+learning"

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        results: list[Decision | None] = [None] * len(candidates)
        passed: list[tuple[int, Candidate]] = []
        notes = dict(context.memory)
        for i, c in enumerate(candidates):
            a = self.memory.assess(
                context.now, str(c.setup_type), c.direction.value, c.session_label, candidate_features(c)
            )
            self.assessments[c.key] = a
            if a.veto:
                results[i] = Decision(
                    take=False,
                    confidence=0.0,
                    reason=f"learning veto: {a.reason}",
                    source="learning",
                    status=DecisionStatus.SKIP,
                )
                continue
            if a.score_adjustment:
                score = min(100.0, max(0.0, c.prefilter_score + a.score_adjustment))
                c = dataclasses.replace(c, prefilter_score=score)
            notes[c.key] = a.as_memory()
            passed.append((i, c))
        if passed:
            ctx = DecisionContext(now=context.now, recent_bars=context.recent_bars, memory=notes)
            answers = self.base.decide([c for _, c in passed], ctx)
            for (i, _), d in zip(passed, answers, strict=True):
                results[i] = d
        return [d for d in results if d is not None]
