"""The `Decider` protocol and its context (the ground): what the engine asks about candidates at one decision time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.model import Candidate, Decision


@dataclass(frozen=True)
class DecisionContext:
    """What a decider may look at: only what is known at `now` (UTC).

    `recent_bars` holds bars that closed at or before `now` (open-time index, UTC).
    `memory` carries learning's view per candidate key (fingerprint stats, matched negatives).
    """

    now: datetime
    recent_bars: pd.DataFrame
    memory: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


class Decider(Protocol):
    """Decides a batch of candidates seen together; returns one `Decision` per candidate, in order."""

    @property
    def name(self) -> str: ...

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]: ...


@runtime_checkable
class ScoreDecider(Protocol):
    """A decider whose answer for a candidate is a pure function of its prefilter score.

    `decide_score(score)` is exactly the `Decision` `decide` gives a candidate with that score, with no
    state, bars or memory involved, and `decide_scores(scores)` gives for many scores at once its `take`
    and the rank the engine picks among several takes by (the stated confidence, else the score); the
    engine may then decide without building candidates and run its compiled path
    (`mesdesk.engine.fast`), which is checked equal to the loop.
    """

    @property
    def name(self) -> str: ...

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]: ...

    def decide_score(self, score: float) -> Decision: ...

    def decide_scores(
        self, scores: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]: ...
