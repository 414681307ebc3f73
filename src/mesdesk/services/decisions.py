"""Application layer of the deciders: build one from settings, run it in the engine, summarise it.

`build_decider` wires a primary (OpenAI, Anthropic or local) with the local fallback, the daily
budget and the decision cache in the store. `DecisionTap` sits between the engine and the decider:
before each batch it feeds the outcomes the engine has resolved so far (exit strictly before the
decision time) to the local model and the calibration, and it keeps each decision's tokens, cost and
calibrated confidence so the journal can show them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from mesdesk.config import Settings
from mesdesk.decide.calibration import Calibration, CalibrationConfig, Reliability
from mesdesk.decide.local import LocalDecider, LocalDeciderConfig, local_outcomes_from_journal
from mesdesk.decide.prompt import SEED_TERMS, TradeTerms
from mesdesk.decide.rules import RuleDecider
from mesdesk.decider import Decider, DecisionContext
from mesdesk.engine import EngineConfig, EngineResult, run_backtest, trades_from_journal
from mesdesk.errors import ConfigError
from mesdesk.model import Candidate, Decision, DecisionStatus, candidate_key

if TYPE_CHECKING:
    import httpx2

    # The budget and the cache live in the store (SQLAlchemy): imported where an LLM decider is built,
    # so a rule or local backtest never loads them.
    from mesdesk.decide.llm_decider import LLMDecider
    from mesdesk.llm.budget import Budget
    from mesdesk.llm.cache import DecisionCache

DECIDER_NAMES = ("auto", "local", "openai", "anthropic")
_STEP = pd.Timedelta(minutes=15)
EXTRA_COLUMNS = ("calibrated", "input_tokens", "output_tokens", "cost_usd", "latency_ms")


def resolve_decider_name(name: str, settings: Settings) -> str:
    """`auto` means openai when OPENAI_API_KEY is set, else anthropic with its key, else local."""
    if name not in DECIDER_NAMES:
        raise ConfigError(f"--decider {name!r}: choose one of {', '.join(DECIDER_NAMES)} (or rules)")
    if name != "auto":
        return name
    if settings.openai_api_key is not None and settings.openai_api_key.get_secret_value():
        return "openai"
    if settings.anthropic_api_key is not None and settings.anthropic_api_key.get_secret_value():
        return "anthropic"
    return "local"


class DecisionTap:
    """A `Decider` that feeds resolved outcomes to learners before deciding and records usage after."""

    def __init__(self, inner: Decider, local: LocalDecider, calibration: Calibration) -> None:
        self.inner = inner
        self.local = local
        self.calibration = calibration
        self._engine: Any = None
        self._extras: dict[str, dict[str, float | None]] = {}
        self.decisions: dict[str, Decision] = {}
        self._fed_at: object = None

    @property
    def name(self) -> str:
        return self.inner.name

    def attach(self, engine: Any) -> None:
        """The engine whose journal holds the outcomes (it must have a `journal()` method)."""
        if not callable(getattr(engine, "journal", None)):
            raise TypeError("attach() needs an object with a journal() method")
        self._engine = engine

    def feed(self, journal: pd.DataFrame) -> None:
        """Give the learners a journal's resolved rows (each uses only those resolved before its `now`)."""
        outcomes = local_outcomes_from_journal(journal)
        self.local.observe(outcomes)
        self.calibration.observe(outcomes)

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        if self._engine is not None:
            stamp = self._engine.clock.now()
            if stamp != self._fed_at:  # one journal read per engine step is enough
                self.feed(self._engine.journal())
                self._fed_at = stamp
        out = self.inner.decide(candidates, context)
        for c, d in zip(candidates, out, strict=False):
            self.decisions[c.key] = d
            self._extras[c.key] = {
                "calibrated": d.calibrated,
                "input_tokens": float(d.input_tokens),
                "output_tokens": float(d.output_tokens),
                "cost_usd": d.cost_usd,
                "latency_ms": d.latency_ms,
            }
        return out

    def annotate(self, journal: pd.DataFrame) -> pd.DataFrame:
        """The journal with calibrated confidence, tokens, cost and latency of each asked candidate."""
        out = journal.copy()
        if out.empty:
            for col in EXTRA_COLUMNS:
                out[col] = pd.Series(dtype=float)
            return out
        keys = [
            candidate_key(pd.Timestamp(ts).to_pydatetime(), str(setup), str(direction))
            for ts, setup, direction in zip(out["ts"], out["setup"], out["direction"], strict=True)
        ]
        for col in EXTRA_COLUMNS:
            default = float("nan") if col == "calibrated" else 0.0
            values = [self._extras.get(k, {}).get(col) for k in keys]
            out[col] = [default if v is None else float(v) for v in values]
        return out


@dataclass
class DeciderRun:
    """A decider ready for the engine (`tap`) and the parts a report reads afterwards."""

    name: str
    tap: DecisionTap
    budget: Budget | None = None
    cache: DecisionCache | None = None
    calibration: Calibration = field(default_factory=Calibration)

    def run_pair(
        self,
        bars: pd.DataFrame,
        candidates: pd.DataFrame,
        configs: tuple[EngineConfig, EngineConfig],
        sub_bars: pd.DataFrame | None,
        span: pd.Timedelta,
        wrap: Callable[[Decider], Decider] | None = None,
    ) -> tuple[EngineResult, EngineResult, dict[str, Any]]:
        """The result run with this decider, its optimistic twin (same answers, free) and the report parts.

        `wrap` (e.g. learning's vetoes) wraps the decider of the result run; the twin replays its answers.
        """
        if wrap is not None:
            self.tap.inner = wrap(self.tap.inner)
        result = run_tapped(bars, candidates, self, configs[0], sub_bars, bar_span=span)
        twin_local = LocalDecider()
        twin_inner: Decider = (
            twin_local if self.name == "local" else MemoDecider(self.tap.decisions, self.name, twin_local)
        )
        twin = DeciderRun(name=self.name, tap=DecisionTap(twin_inner, twin_local, Calibration()))
        optimistic = run_tapped(bars, candidates, twin, configs[1], sub_bars, bar_span=span)
        return result, optimistic, report_parts(result.journal, self)


def _store(settings: Settings, store_url: str | None) -> Any:
    from mesdesk.store.base import make_engine, migrate

    engine = make_engine(store_url or settings.resolved_database_url)
    migrate(engine)
    return engine


def build_decider(
    name: str,
    settings: Settings,
    *,
    cache_mode: str | None = None,
    scope: str = "live",
    store_url: str | None = None,
    http_client: httpx2.Client | None = None,
    local_config: LocalDeciderConfig | None = None,
    calibration_config: CalibrationConfig | None = None,
    terms: TradeTerms = SEED_TERMS,
) -> DeciderRun:
    """The decider `name` (auto/local/openai/anthropic) with the local fallback, budget and cache."""
    resolved = resolve_decider_name(name, settings)
    calibration = Calibration(calibration_config)
    local = LocalDecider(local_config)
    if resolved == "local":
        return DeciderRun(name="local", tap=DecisionTap(local, local, calibration), calibration=calibration)
    from mesdesk.decide.guard import guarded
    from mesdesk.llm.budget import Budget
    from mesdesk.llm.cache import CacheMode, DecisionCache, parse_cache_mode

    mode: CacheMode = parse_cache_mode(cache_mode or settings.decision_cache_mode)
    primary: LLMDecider
    if resolved == "openai":
        from mesdesk.decide.openai_decider import OpenAIDecider

        primary = OpenAIDecider(settings, http_client=http_client, policy=calibration, terms=terms)
    else:
        from mesdesk.decide.anthropic_decider import AnthropicDecider

        primary = AnthropicDecider(settings, http_client=http_client, policy=calibration, terms=terms)
    store = _store(settings, store_url)
    budget = Budget(store, settings.daily_gpt_call_cap, scope=scope)
    cache = DecisionCache(store, mode)
    decider = guarded(primary, local, budget, cache)
    return DeciderRun(
        name=primary.name,
        tap=DecisionTap(decider, local, calibration),
        budget=budget,
        cache=cache,
        calibration=calibration,
    )


# ---------------------------------------------------------------- summaries


def decision_counts(journal: pd.DataFrame) -> pd.DataFrame:
    """Candidates by who was asked, what came of it and who decided in the end (asked rows only)."""
    cols = ["decision_source", "decision", "fallback", "candidates", "taken", "cost_usd"]
    if journal.empty:
        return pd.DataFrame(columns=cols)
    frame = journal.assign(
        fallback=journal["fallback"].fillna("-"),
        taken=journal["entry_ts"].notna(),
        cost_usd=journal["cost_usd"] if "cost_usd" in journal.columns else 0.0,
    )
    asked = frame[frame["decision"] != "not_asked"]
    grouped = (
        asked.groupby(["decision_source", "decision", "fallback"], dropna=False)
        .agg(candidates=("decision", "size"), taken=("taken", "sum"), cost_usd=("cost_usd", "sum"))
        .reset_index()
    )
    not_asked = frame[frame["decision"] == "not_asked"]
    if len(not_asked):
        extra = pd.DataFrame(
            [
                {
                    "decision_source": "-",
                    "decision": "not_asked",
                    "fallback": "-",
                    "candidates": len(not_asked),
                    "taken": 0,
                    "cost_usd": 0.0,
                }
            ]
        )
        grouped = pd.concat([grouped, extra], ignore_index=True)
    return grouped.loc[:, cols]


def reliability_frame(rel: Reliability) -> pd.DataFrame:
    """The reliability table as rows: confidence bin, n, mean stated, observed and calibrated win rate (%)."""
    return pd.DataFrame(
        [
            {
                "confidence": f"{r.bin_low}-{r.bin_high}",
                "n": r.n,
                "stated_mean": r.stated_mean,
                "observed_win_pct": r.observed_win_rate,
                "calibrated_pct": r.calibrated,
            }
            for r in rel.rows
        ],
        columns=["confidence", "n", "stated_mean", "observed_win_pct", "calibrated_pct"],
    )


def journal_reliability(journal: pd.DataFrame, config: CalibrationConfig | None = None) -> Reliability:
    """Calibration of a whole journal as seen after its last resolved outcome."""
    cal = Calibration(config)
    outcomes = local_outcomes_from_journal(journal)
    cal.observe(outcomes)
    if not outcomes:
        end = pd.Timestamp("2262-01-01", tz="UTC").to_pydatetime()
    else:
        end = max(o.resolved_at for o in outcomes) + pd.Timedelta(seconds=1)
    return cal.reliability(end)


def run_tapped(
    bars: pd.DataFrame,
    candidates: pd.DataFrame,
    run: DeciderRun,
    config: EngineConfig,
    sub_bars: pd.DataFrame | None = None,
    *,
    bar_span: pd.Timedelta | None = None,
    step: pd.Timedelta = _STEP,
) -> EngineResult:
    """`engine.run_backtest` in clock steps with the tap attached, so learners see outcomes as the run
    resolves them (each still uses only those resolved before its decision time)."""
    from mesdesk.engine import EngineResult, run_backtest

    result = run_backtest(
        bars, candidates, run.tap, config, sub_bars, bar_span=bar_span, step=step, attach=run.tap.attach
    )
    journal = run.tap.annotate(result.journal)
    return EngineResult(journal=journal, trades=trades_from_journal(journal), config=config)


class MemoDecider:
    """Repeats the decisions of an earlier run per candidate; a candidate it never saw is a cache miss.

    The optimistic companion run of a backtest uses it so that it neither pays nor asks again.
    """

    def __init__(self, decisions: dict[str, Decision], name: str, fallback: Decider) -> None:
        self._decisions = decisions
        self._name = name
        self._fallback = fallback

    @property
    def name(self) -> str:
        return self._name

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        missing = [c for c in candidates if c.key not in self._decisions]
        fallen = iter(self._fallback.decide(missing, context)) if missing else iter(())
        out = []
        for c in candidates:
            known = self._decisions.get(c.key)
            if known is not None:
                out.append(replace(known, input_tokens=0, output_tokens=0, cost_usd=0.0, latency_ms=0.0))
                continue
            d = next(fallen)
            out.append(
                replace(
                    d,
                    status=DecisionStatus.CACHE_MISS,
                    source=self._name,
                    fallback=d.source,
                    reason=f"cache_miss: not asked in the result run | {d.source}: {d.reason}",
                )
            )
        return out


class BacktestDecider(Protocol):
    """A decider as a backtest runs it: the result run (stop first) and its optimistic twin (target
    first, the same answers, nothing paid twice), plus the report parts the decider adds."""

    @property
    def name(self) -> str: ...

    def run_pair(
        self,
        bars: pd.DataFrame,
        candidates: pd.DataFrame,
        configs: tuple[EngineConfig, EngineConfig],
        sub_bars: pd.DataFrame | None,
        span: pd.Timedelta,
        wrap: Callable[[Decider], Decider] | None = None,
    ) -> tuple[EngineResult, EngineResult, dict[str, Any]]: ...


@dataclass(frozen=True)
class RulesRun:
    """The rule decider (take what passed the prefilter; `threshold` overrides it): free and
    deterministic, so both runs simply ask it again and nothing needs the stepped clock."""

    threshold: float | None = None
    name: str = "rules"

    def decider(self) -> Decider:
        return RuleDecider() if self.threshold is None else RuleDecider(threshold=self.threshold)

    def run_pair(
        self,
        bars: pd.DataFrame,
        candidates: pd.DataFrame,
        configs: tuple[EngineConfig, EngineConfig],
        sub_bars: pd.DataFrame | None,
        span: pd.Timedelta,
        wrap: Callable[[Decider], Decider] | None = None,
    ) -> tuple[EngineResult, EngineResult, dict[str, Any]]:
        runs = []
        for config in configs:
            decider = self.decider()
            runs.append(
                run_backtest(bars, candidates, wrap(decider) if wrap else decider, config, sub_bars, bar_span=span)
            )
        note = (
            f"decider rules: takes what passed the prefilter (>= {self.threshold or 75:g}); it states no "
            "confidence, so the seed's confidence gate (>= 85) did not apply"
        )
        return runs[0], runs[1], {"decider_notes": (note,)}


def backtest_scope() -> str:
    """A fresh budget scope per backtest: its paid calls never count against the live day."""
    return f"backtest:{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def report_parts(journal: pd.DataFrame, run: DeciderRun) -> dict[str, Any]:
    """Decision counts, the reliability table and the notes lines of a backtest report."""
    rel = journal_reliability(journal, run.calibration.config)
    notes = [f"decider {run.name}"]
    brier = "-" if rel.n == 0 else f"{rel.brier_stated:.4f}"
    applies = "applies" if rel.applies else f"not applied yet (needs {run.calibration.config.min_samples})"
    notes.append(
        f"calibration: {rel.n} answered and resolved candidates, Brier score of stated confidence {brier}, {applies}"
    )
    trailing = "-" if rel.trailing_win_rate is None else f"{rel.trailing_win_rate:.1f} %"
    notes.append(
        f"confidence threshold at the end: {rel.threshold:g} "
        f"(trailing-20 win rate {trailing} over {rel.trailing_n} trades)"
    )
    if run.budget is not None:
        totals = run.budget.totals()
        notes.append(
            f"paid requests: {totals.calls} over {totals.days} trading days (cap {run.budget.cap}/day; "
            f"{totals.capped_days} days reached it); tokens {totals.input_tokens} in / {totals.output_tokens} out; "
            f"cost ${totals.cost_usd:.4f}"
        )
    if run.cache is not None:
        hits = sum(1 for d in run.tap.decisions.values() if d.source.endswith("(cache)"))
        notes.append(f"decision cache: mode {run.cache.mode}, {hits} candidates answered from the cache")
    return {
        "decisions": decision_counts(journal),
        "calibration": reliability_frame(rel),
        "decider_notes": tuple(notes),
    }


def budget_status(settings: Settings, now: datetime | None = None, *, scope: str = "live") -> dict[str, object]:
    """The seed's /metrics/budget for the trading day of `now` (default: the wall clock)."""
    from mesdesk.llm.budget import Budget

    store = _store(settings, None)
    try:
        status = Budget(store, settings.daily_gpt_call_cap, scope=scope).status(now or datetime.now(UTC))
    finally:
        store.dispose()
    return status.as_metrics()
