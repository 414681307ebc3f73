"""The backtest job: load bars, detect candidates, run the engine (pessimistic and optimistic), report.

The pessimistic run is the result: a bar holding both the stop and the target fills the stop. The
optimistic run fills the target instead and exists only to show the range the ambiguity spans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mesdesk.calendar import trading_days
from mesdesk.config import Settings, load_settings
from mesdesk.data.registry import HistoryRequest
from mesdesk.decider import Decider
from mesdesk.engine import EngineConfig, write_journal
from mesdesk.engine.journal import write_csv
from mesdesk.engine.summary import Stats, breakdown, trade_stats
from mesdesk.errors import ConfigError
from mesdesk.services.decisions import BacktestDecider
from mesdesk.services.root import Root
from mesdesk.setups.registry import SetupSet
from mesdesk.timeframes import Timeframe

if TYPE_CHECKING:
    from mesdesk.learn.memory import LearningConfig  # learning (scipy) loads only when a run learns


@dataclass(frozen=True)
class BacktestRequest:
    """What to backtest; `sub_bars` names the finer path timeframe ("1m", "1s") or None."""

    source: str = "synthetic"
    file: Path | None = None
    start: date | None = None
    end: date | None = None
    days: int = 20
    timeframe: str = "1m"
    sub_bars: str | None = None
    decider: str = "rules"
    symbol: str = "MES"
    out: Path | None = None
    chart_day: date | None = None
    seed: int = 7
    slippage_ticks: int = 1
    min_score: float | None = None
    learning: bool = False
    write: bool = True
    report: bool = True  # report.html beside trades and journal (--no-report: those files only)
    cache_mode: str | None = None  # record, replay or off (LLM deciders; default MESDESK_DECISION_CACHE_MODE)
    setups: tuple[str, ...] = ()  # --setup: built-in names or user code (none: the three built-ins)
    setup_params: tuple[str, ...] = ()  # --setup-param <setup>.<param>=<value>


@dataclass(frozen=True)
class BacktestReport:
    """Everything the CLI prints and the files it wrote."""

    stats: Stats
    optimistic: Stats
    by_setup: pd.DataFrame
    by_session: pd.DataFrame
    trades: pd.DataFrame
    journal: pd.DataFrame
    bars: pd.DataFrame
    candidates: int
    first_bar: datetime
    last_bar: datetime
    out: Path | None
    files: tuple[Path, ...]
    decisions: pd.DataFrame | None = None  # candidates by decision source, outcome and fallback
    calibration: pd.DataFrame | None = None  # reliability table of stated confidence
    decider_notes: tuple[str, ...] = ()  # Brier score, threshold, budget and cache lines
    config: EngineConfig | None = None  # the run's rules (bracket, execution): the report replays stops with them
    sub_bars: pd.DataFrame | None = None  # the finer bars the positions walked (--sub-bars), if any


def history_request(req: BacktestRequest, timeframe: Timeframe) -> HistoryRequest:
    return HistoryRequest(
        timeframe=timeframe, symbol=req.symbol, start=req.start, end=req.end, days=req.days, placeholders="drop"
    )


def load_path_bars(req: BacktestRequest, settings: Settings, timeframe: Timeframe) -> pd.DataFrame:
    """Bars of `timeframe` from the requested source (validated mesdesk frame, cut to --start/--end)."""
    return Root(settings).history(req.source, history_request(req, timeframe), file=req.file, seed=req.seed)


def _trading_days(bars: pd.DataFrame) -> Any:
    return trading_days(pd.DatetimeIndex(bars.index))


def backtest(
    bars: pd.DataFrame,
    setups: SetupSet,
    decider: BacktestDecider,
    config: EngineConfig,
    sub_bars: pd.DataFrame | None = None,
    *,
    timeframe: Timeframe = Timeframe.M1,
    learning: LearningConfig | None = None,
) -> BacktestReport:
    """THE backtest: candidates, the pessimistic and the optimistic run, and their statistics.

    Every backtest goes through here (the CLI, learning's evaluation, the demo, the optimizer's
    baseline), whatever decides: `decider.run_pair` gives the result run (a bar holding both stop and
    target fills the stop) and its optimistic twin (the target), with the same answers. `learning`
    wraps the decider with point-in-time vetoes fed by every candidate's as-if-taken outcome.
    Nothing is written.
    """
    candidates = setups.detect(bars, timeframe)
    optimistic_cfg = replace(config, execution=replace(config.execution, ambiguous_policy="target_first"))
    span = pd.Timedelta(timeframe.span)
    wrap = (
        learning_wrapper(candidates, bars if sub_bars is None else sub_bars, config, learning)
        if learning is not None
        else None
    )
    result, optimistic, extras = decider.run_pair(bars, candidates, (config, optimistic_cfg), sub_bars, span, wrap)
    return BacktestReport(
        stats=trade_stats(result.trades),
        optimistic=trade_stats(optimistic.trades),
        by_setup=breakdown(result.trades, "setup"),
        by_session=breakdown(result.trades, "session"),
        trades=result.trades,
        journal=result.journal,
        bars=bars,
        candidates=len(candidates),
        first_bar=pd.Timestamp(bars.index[0]).to_pydatetime(),
        last_bar=pd.Timestamp(bars.index[-1]).to_pydatetime(),
        out=None,
        files=(),
        config=config,
        sub_bars=sub_bars,
        **extras,
    )


def learning_wrapper(
    candidates: pd.DataFrame,
    path_frame: pd.DataFrame,
    config: EngineConfig,
    learning_config: LearningConfig | None = None,
) -> Callable[[Decider], Decider]:
    """Wrap a decider with learning fed by every candidate's as-if-taken outcome, point-in-time.

    All outcomes are computed up front, but each memory uses one only once its exit has closed, so
    the run never learns from its future; every wrapped decider gets a fresh memory.
    """
    from mesdesk.engine.loop import infer_span
    from mesdesk.learn.counterfactual import follow
    from mesdesk.learn.decider import LearningDecider
    from mesdesk.learn.memory import LearningMemory
    from mesdesk.pathbars import PathBars

    path = PathBars.from_frame(path_frame, infer_span(pd.DatetimeIndex(path_frame.index)))
    outcomes = follow(candidates, path, config)

    def wrap(decider: Decider) -> Decider:
        memory = LearningMemory(learning_config)
        memory.extend(outcomes)
        return LearningDecider(decider, memory)

    return wrap


def _learning_config() -> LearningConfig:
    from mesdesk.learn.memory import LearningConfig

    return LearningConfig()


def run_backtest_job(
    req: BacktestRequest, settings: Settings | None = None, *, http_client: Any = None
) -> BacktestReport:
    """`mesdesk backtest`: load the request's bars, run `backtest`, write trades, journal and report."""
    root = Root(settings or load_settings())
    setups = root.setups(req.setups, req.setup_params, min_score=req.min_score)  # bad setups fail first
    timeframe = Timeframe.parse(req.timeframe)
    if timeframe not in (Timeframe.M1, Timeframe.M5):
        raise ConfigError(f"--timeframe {req.timeframe}: the scalper decides on 1m or 5m bars")
    bars = load_path_bars(req, root.settings, timeframe)
    if len(bars) < 2:
        raise ConfigError("no bars in the requested range")
    if req.chart_day is not None:
        days = {pd.Timestamp(d).date() for d in set(_trading_days(bars).tolist())}
        if req.chart_day not in days:
            raise ConfigError(f"--chart-day {req.chart_day}: no bars that day (data spans {min(days)} to {max(days)})")
    sub_bars = None
    if req.sub_bars is not None:
        sub_tf = Timeframe.parse(req.sub_bars)
        if sub_tf.span >= timeframe.span:
            raise ConfigError(f"--sub-bars {req.sub_bars} must be finer than --timeframe {req.timeframe}")
        sub_bars = load_path_bars(req, root.settings, sub_tf)
    config = root.engine_config(slippage_ticks=req.slippage_ticks)
    decider = root.backtest_decider(
        req.decider, config, min_score=req.min_score, cache_mode=req.cache_mode, http_client=http_client
    )
    report = backtest(
        bars,
        setups,
        decider,
        config,
        sub_bars,
        timeframe=timeframe,
        learning=_learning_config() if req.learning else None,
    )
    if not req.write:
        return report
    out = req.out or Path("mesdesk-out") / f"backtest-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    return replace(report, out=out, files=write_outputs(report, out, req.chart_day, html=req.report))


def write_outputs(report: BacktestReport, out: Path, chart_day: date | None, *, html: bool = True) -> tuple[Path, ...]:
    """trades.csv, journal.parquet/csv and (`html`) report.html under `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    trades_csv = out / "trades.csv"
    write_csv(report.trades, trades_csv)
    journal_files = write_journal(report.journal, out)
    if not html:
        return (trades_csv, *journal_files)
    from mesdesk.services.backtest_report import write_report

    return (trades_csv, *journal_files, *write_report(report, out, chart_day))
