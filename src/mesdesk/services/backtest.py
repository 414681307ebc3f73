"""The backtest job: load bars, detect candidates, run the engine (pessimistic and optimistic), report.

The pessimistic run is the result: a bar holding both the stop and the target fills the stop. The
optimistic run fills the target instead and exists only to show the range the ambiguity spans.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mesdesk.config import Settings, load_settings
from mesdesk.decide.base import Decider
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import EngineConfig, ExecutionConfig, RiskLimits, SessionConfig, run_backtest, write_journal
from mesdesk.engine.summary import Stats, breakdown, trade_stats
from mesdesk.errors import ConfigError
from mesdesk.learn.memory import LearningConfig
from mesdesk.timeframes import Timeframe

SOURCES = ("synthetic", "file", "databento", "yahoo")


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
    cache_mode: str | None = None  # record, replay or off (LLM deciders; default MESDESK_DECISION_CACHE_MODE)


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


def _load_module(name: str, what: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"{what} is not available in this installation ({exc})") from exc


def _window(req: BacktestRequest) -> tuple[datetime, datetime]:
    end_day = req.end or (datetime.now(UTC).date() - timedelta(days=1))
    start_day = req.start or (end_day - timedelta(days=max(1, req.days) * 7 // 5 + 2))
    if start_day > end_day:
        raise ConfigError(f"--start {start_day} is after --end {end_day}")
    return datetime.combine(start_day - timedelta(days=1), datetime.min.time(), tzinfo=UTC), datetime.combine(
        end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )


def load_path_bars(req: BacktestRequest, settings: Settings, timeframe: Timeframe) -> pd.DataFrame:
    """Bars of `timeframe` from the requested source (validated mesdesk frame)."""
    if req.source == "file":
        if req.file is None:
            raise ConfigError("--source file needs --file PATH")
        files = _load_module("mesdesk.data.files", "the file loader")
        bars: pd.DataFrame = files.load_bars(req.file, placeholders="drop")
        span = files.infer_span(bars)
        if span == timeframe.span:
            return bars
        if span > timeframe.span:
            raise ConfigError(f"{req.file}: bars are {span}; cannot give {timeframe.value} bars from them")
        resample = _load_module("mesdesk.data.resample", "resampling")
        resampled: pd.DataFrame = resample.resample(bars, timeframe, source_span=span)
        return resampled
    if req.source == "synthetic":
        synthetic = _load_module("mesdesk.data.synthetic", "the synthetic market")
        cfg = synthetic.SyntheticConfig(seed=req.seed)
        if req.start is not None:  # a calendar range: every CME session in [start, end]
            last = req.end or req.start + timedelta(days=max(1, req.days) * 7 // 5 + 2)
            one_minute: pd.DataFrame = synthetic.generate_bars(req.start, last, cfg)
        else:
            one_minute = synthetic.generate_days(req.days, cfg)
        if timeframe is Timeframe.M1:
            return one_minute
        if timeframe is Timeframe.S1:
            raise ConfigError("the synthetic market has no 1-second bars; use --sub-bars 1m with --timeframe 5m")
        resample = _load_module("mesdesk.data.resample", "resampling")
        out: pd.DataFrame = resample.resample(one_minute, timeframe, source_span=pd.Timedelta(minutes=1))
        return out
    start, end = _window(req)
    if req.source == "yahoo":
        yahoo = _load_module("mesdesk.data.yahoo", "the Yahoo source")
        source = yahoo.YahooSource()
        symbol = {"MES": "MES=F", "ES": "ES=F"}.get(req.symbol, req.symbol)
    elif req.source == "databento":
        databento = _load_module("mesdesk.data.databento_source", "the Databento source")
        key = settings.databento_api_key.get_secret_value() if settings.databento_api_key else None
        source = databento.DatabentoSource.from_key(key)
        symbol = f"{req.symbol}.c.0"
    else:
        raise ConfigError(f"--source {req.source!r}: choose one of {', '.join(SOURCES)}")
    fetched: pd.DataFrame = source.bars(symbol, timeframe, start, end)
    return fetched


def _clip(bars: pd.DataFrame, req: BacktestRequest) -> pd.DataFrame:
    if req.source not in ("file", "synthetic") or len(bars) == 0:
        return bars
    days = pd.Series(_trading_days(bars), index=bars.index)
    keep = pd.Series(True, index=bars.index)
    if req.start is not None:
        keep &= days >= pd.Timestamp(req.start)
    if req.end is not None:
        keep &= days <= pd.Timestamp(req.end)
    return bars[keep.to_numpy()]


def _trading_days(bars: pd.DataFrame) -> Any:
    from mesdesk.calendar import trading_days

    return trading_days(pd.DatetimeIndex(bars.index))


def make_decider(name: str, min_score: float | None = None) -> Decider:
    if name == "rules":
        return RuleDecider() if min_score is None else RuleDecider(threshold=min_score)
    raise ConfigError(f"--decider {name!r}: choose rules, local, openai, anthropic or auto")


def engine_config(settings: Settings, slippage_ticks: int, first: date, last: date) -> EngineConfig:
    """The seed's rules with DAILY_POINT_STOP, MESDESK_RTH_END and the calendar's early closes."""
    session = SessionConfig.from_settings(settings)
    calendar = importlib.import_module("mesdesk.calendar")
    if hasattr(calendar, "early_closes"):
        session = replace(session, early_closes=calendar.early_closes(first, last))
    return EngineConfig(
        execution=ExecutionConfig(slippage_ticks=slippage_ticks),
        limits=RiskLimits.from_settings(settings),
        session=session,
    )


def backtest_frames(
    bars: pd.DataFrame,
    timeframe: Timeframe,
    settings: Settings,
    *,
    sub_bars: pd.DataFrame | None = None,
    decider: str = "rules",
    slippage_ticks: int = 1,
    min_score: float | None = None,
    request: BacktestRequest | None = None,
    http_client: Any = None,
    learning: bool = False,
) -> BacktestReport:
    """Candidates, the pessimistic and the optimistic run, and their statistics (nothing written).

    The rule decider runs here; the other deciders run through `mesdesk.services.decisions`
    (LLM cache, budget, calibration), which returns the same pair of runs plus its own tables.
    """
    setups = _load_module("mesdesk.setups.scalper", "the scalper setups")
    candidates = setups.detect_candidates(bars, setups.ScalperSetupsConfig(), timeframe)
    if min_score is not None:
        candidates = candidates.assign(passed_prefilter=candidates["prefilter_score"] >= min_score)
    days = _trading_days(bars)
    first, last = pd.Timestamp(days[0]).date(), pd.Timestamp(days[-1]).date()
    config = engine_config(settings, slippage_ticks, first, last)
    optimistic_cfg = replace(config, execution=replace(config.execution, ambiguous_policy="target_first"))
    span = pd.Timedelta(timeframe.span)
    extras: dict[str, Any] = {}
    wrap = learning_wrapper(candidates, bars if sub_bars is None else sub_bars, config) if learning else None
    if decider == "rules":
        rules = make_decider(decider, min_score)
        result = run_backtest(bars, candidates, wrap(rules) if wrap else rules, config, sub_bars, bar_span=span)
        rules = make_decider(decider, min_score)
        optimistic = run_backtest(
            bars, candidates, wrap(rules) if wrap else rules, optimistic_cfg, sub_bars, bar_span=span
        )
    else:
        from mesdesk.services import decisions as svc

        req = request or BacktestRequest(decider=decider, slippage_ticks=slippage_ticks, min_score=min_score)
        result, optimistic, extras = svc.run_backtest_pair(
            req,
            settings,
            bars,
            candidates,
            (config, optimistic_cfg),
            sub_bars,
            span,
            http_client=http_client,
            wrap=wrap,
        )
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


def run_backtest_job(
    req: BacktestRequest, settings: Settings | None = None, *, http_client: Any = None
) -> BacktestReport:
    """Run the whole pipeline and (when `req.write`) write trades, journal and the HTML report."""
    settings = settings or load_settings()
    if req.source not in SOURCES:
        raise ConfigError(f"--source {req.source!r}: choose one of {', '.join(SOURCES)}")
    timeframe = Timeframe.parse(req.timeframe)
    if timeframe not in (Timeframe.M1, Timeframe.M5):
        raise ConfigError(f"--timeframe {req.timeframe}: the scalper decides on 1m or 5m bars")
    bars = _clip(load_path_bars(req, settings, timeframe), req)
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
        sub_bars = _clip(load_path_bars(req, settings, sub_tf), req)
    report = backtest_frames(
        bars,
        timeframe,
        settings,
        sub_bars=sub_bars,
        decider=req.decider,
        slippage_ticks=req.slippage_ticks,
        min_score=req.min_score,
        request=req,
        http_client=http_client,
        learning=req.learning,
    )
    if not req.write:
        return report
    out = req.out or Path("mesdesk-out") / f"backtest-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    return replace(report, out=out, files=write_outputs(report, out, req.chart_day))


def write_outputs(report: BacktestReport, out: Path, chart_day: date | None) -> tuple[Path, ...]:
    """trades.csv, journal.parquet/csv, equity.png, day-<date>.png and report.html under `out`."""
    from mesdesk.services.backtest_report import write_report

    out.mkdir(parents=True, exist_ok=True)
    trades_csv = out / "trades.csv"
    report.trades.to_csv(trades_csv, index=False)
    journal_files = write_journal(report.journal, out)
    return (trades_csv, *journal_files, *write_report(report, out, chart_day))
