"""Learning while trading: follow the candidates a decider is shown, point-in-time, and remember them.

In a backtest every candidate's outcome can be computed up front (`counterfactual.follow`), because the
memory only uses each one once it has resolved. A live or replayed runner cannot: the future bars do
not exist yet. `LiveLearningDecider` therefore follows each candidate it is asked about through the
bars that arrive with later decisions (`DecisionContext.recent_bars`, which holds only bars closed by
the decision time), with the engine's own `simulate_bracket`. An outcome joins the memory as soon as
its exit bar has closed, and `on_outcomes` (e.g. the store) keeps it across restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.decider import Decider, DecisionContext
from mesdesk.engine.config import EngineConfig
from mesdesk.engine.fills import simulate_bracket
from mesdesk.engine.risk import close_time_utc, in_entry_window
from mesdesk.learn.decider import LearningDecider, candidate_features
from mesdesk.learn.memory import LearningMemory
from mesdesk.model import Candidate, Decision
from mesdesk.outcome import Outcome
from mesdesk.pathbars import PathBars


@dataclass(frozen=True, slots=True)
class _Watched:
    candidate: Candidate
    decided_at: datetime
    taken: bool


_WAIT, _DROP = "wait", "drop"


def _ns(ts: datetime) -> int:
    return int(pd.Timestamp(ts).as_unit("ns").value)


class OutcomeFollower:
    """Candidates waiting for their exit; `update` resolves those whose exit is in the bars given."""

    def __init__(self, config: EngineConfig, *, max_age_hours: float = 8.0) -> None:
        self.config = config
        self.max_age = pd.Timedelta(hours=max_age_hours)
        self._watched: dict[str, _Watched] = {}

    def __len__(self) -> int:
        return len(self._watched)

    def watch(self, candidates: Iterable[Candidate], decided_at: datetime, taken: Iterable[str]) -> None:
        taken_keys = set(taken)
        for c in candidates:
            if c.key not in self._watched:
                self._watched[c.key] = _Watched(c, decided_at, c.key in taken_keys)

    def update(self, bars: pd.DataFrame, now: datetime) -> list[Outcome]:
        """Outcomes of watched candidates whose exit bar closed by `now` (only bars closed by then count)."""
        if not self._watched or len(bars) < 2:
            return []
        span = pd.Timedelta(pd.DatetimeIndex(bars.index).to_series().diff().min())
        path = PathBars.from_frame(bars, span)
        known = path.known_count(_ns(now))
        out: list[Outcome] = []
        for key, w in list(self._watched.items()):
            result = self._follow(w, path, known)
            if result == _WAIT:
                if pd.Timestamp(now) - pd.Timestamp(w.decided_at) > self.max_age:
                    del self._watched[key]  # its bars have left the window: nothing honest to learn
                continue
            del self._watched[key]
            if isinstance(result, Outcome):
                out.append(result)
        return out

    def _follow(self, w: _Watched, path: PathBars, known: int) -> Outcome | str:
        """The outcome, or _WAIT (exit not in the bars yet), or _DROP (could never be followed)."""
        e = path.first_open_at_or_after(_ns(w.decided_at))
        if e >= known:
            return _WAIT
        if e == 0 and int(path.ts_ns[0]) > _ns(w.decided_at) + int(pd.Timedelta(minutes=30).value):
            return _DROP  # the window does not reach back to the entry
        day = trading_day(w.decided_at)
        entry_at = datetime.fromtimestamp(int(path.ts_ns[e]) / 1e9, tz=UTC)
        if not in_entry_window(entry_at, day, self.config.session):
            return _DROP
        flat_ns = _ns(close_time_utc(day, self.config.session.close_on(day)))
        flat_index = path.last_closed_by(flat_ns) if _ns(entry_at) <= flat_ns else -1
        direction = w.candidate.direction.sign
        result = simulate_bracket(
            path,
            e,
            direction,
            self.config.bracket,
            self.config.execution,
            flat_index=flat_index if flat_index >= e and known > flat_index else None,
            end_index=known,
        )
        if result.exit_index < 0:
            return _WAIT
        c = w.candidate
        return Outcome(
            key=c.key,
            setup=str(c.setup_type),
            direction=c.direction.value,
            session=c.session_label,
            decided_at=w.decided_at,
            resolved_at=max(datetime.fromtimestamp(result.exit_ts_ns / 1e9, tz=UTC), w.decided_at),
            pnl_pts=float(result.pnl_pts),
            counterfactual=not w.taken,
            features=candidate_features(c),
        )


class LiveLearningDecider:
    """`LearningDecider` plus an `OutcomeFollower`: learns from what it is shown while it decides."""

    needs_bars = True

    def __init__(
        self,
        base: Decider,
        memory: LearningMemory,
        config: EngineConfig,
        *,
        on_outcomes: Callable[[list[Outcome]], None] | None = None,
    ) -> None:
        self.learning = LearningDecider(base, memory)
        self.follower = OutcomeFollower(config)
        self.on_outcomes = on_outcomes

    @property
    def name(self) -> str:
        return self.learning.name

    def attach(self, engine: object) -> None:
        """Pass the engine on to the base decider when it reads the engine's journal (the decisions tap)."""
        attach = getattr(self.learning.base, "attach", None)
        if callable(attach):
            attach(engine)

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        resolved = self.follower.update(context.recent_bars, context.now)
        if resolved:
            self.learning.memory.extend(resolved)
            if self.on_outcomes is not None:
                self.on_outcomes(resolved)
        answers = self.learning.decide(candidates, context)
        self.follower.watch(
            candidates, context.now, (c.key for c, d in zip(candidates, answers, strict=True) if d.take)
        )
        return answers
