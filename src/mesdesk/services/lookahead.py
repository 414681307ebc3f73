"""Look-ahead check: does a setup (or the scanner) change its past when the future is removed?

The setup runs once on all the bars. Then, for each cut time ``c`` (a bar close), it runs again on
the bars that closed by ``c`` and every candidate known by ``c`` (``ts <= c``) is compared with the
full run's: a candidate that vanishes, appears, moves or changes a column is a leak, because with
the later bars missing (as in live trading at ``c``) the setup would have said something else.

Cuts: a seeded sample of up to ``cuts`` candidate times (the data then ends with the bar that
completed the candidate, the strictest cut for it), plus ``max(2, cuts // 5)`` evenly spaced and as
many seeded random bar closes. The scanner is checked the same way on its signals, known at
``confirmed_at``; outcome columns (which are about the future by design) are not compared, and the
VIX series is computed once from all the bars so the check isolates the scanner's own reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mesdesk.calendar import CT, trading_days
from mesdesk.config import Settings, load_settings
from mesdesk.data.vix import synthetic_vix
from mesdesk.errors import ConfigError, DataError
from mesdesk.services.backtest import BacktestRequest, load_path_bars
from mesdesk.setups.measured_move_outcomes import OUTCOME_COLUMNS
from mesdesk.setups.measured_move_scan import CSV_COLUMNS, EXTRA_COLUMNS, ScanConfig, base_span, scan_bars
from mesdesk.setups.registry import SetupSet, resolve_setups
from mesdesk.timeframes import Timeframe

Progress = Callable[[int, int], None]  # (cuts done, cuts in all)
Run = Callable[[pd.DataFrame], pd.DataFrame]

SETUP_KEY = ("ts", "setup_type", "direction")
SCANNER_KEY = ("timeframe", "direction", "a_time", "b_time", "c_time")
SCANNER_COMPARED = tuple(c for c in (*CSV_COLUMNS, *EXTRA_COLUMNS) if c not in OUTCOME_COLUMNS)


@dataclass(frozen=True, slots=True)
class Leak:
    """One candidate that differs when the bars after `cut` are removed (times UTC)."""

    cut: datetime
    ts: datetime
    name: str  # the setup (or the scanner's timeframe)
    direction: str
    change: str


@dataclass(frozen=True, slots=True)
class LookaheadReport:
    """What was checked and every leak found, in cut order."""

    subject: str
    bars: int
    first_bar: datetime
    last_bar: datetime
    candidates: int
    cuts: int
    compared: int
    leaks: tuple[Leak, ...]

    @property
    def clean(self) -> bool:
        return not self.leaks

    @property
    def leaking_candidates(self) -> int:
        return len({(leak.ts, leak.name, leak.direction) for leak in self.leaks})


@dataclass(frozen=True, slots=True)
class LookaheadRequest:
    """Which setups (or the scanner) on which bars, and how many cuts."""

    setups: tuple[str, ...] = ()
    setup_params: tuple[str, ...] = ()
    scanner: bool = False
    source: str = "synthetic"
    file: Path | None = None
    start: date | None = None
    end: date | None = None
    days: int = 20
    timeframe: str = "1m"
    seed: int = 7
    cuts: int = 50
    cut_seed: int = 0

    def __post_init__(self) -> None:
        if self.cuts < 1:
            raise ConfigError(f"--cuts must be >= 1, got {self.cuts}")
        if self.scanner and (self.setups or self.setup_params):
            raise ConfigError("--scanner checks the measured-move scanner; leave out --setup and --setup-param")


def choose_cuts(close_ns: np.ndarray, known_ns: np.ndarray, cuts: int, seed: int) -> np.ndarray:
    """Cut times (ns UTC, sorted, unique): sampled candidate times plus even and random bar closes."""
    rng = np.random.default_rng(seed)
    known = np.unique(known_ns)
    sample = known if known.size <= cuts else rng.choice(known, size=cuts, replace=False)
    extra = max(2, cuts // 5)
    even = close_ns[np.linspace(0, close_ns.size - 1, extra + 2).round().astype(np.int64)[1:-1]]
    random = rng.choice(close_ns, size=min(extra, close_ns.size), replace=False)
    out: np.ndarray = np.unique(np.concatenate([sample, even, random]).astype(np.int64))
    return out


def _utc(ns: int) -> datetime:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").to_pydatetime()


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value)


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Row-wise: the two values differ (NaN equals NaN; floats to 1e-9 relative)."""
    na_a, na_b = a.isna().to_numpy(), b.isna().to_numpy()
    if pd.api.types.is_float_dtype(a.dtype) and pd.api.types.is_float_dtype(b.dtype):
        x, y = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            close = np.isclose(x, y, rtol=1e-9, atol=1e-12)
    else:
        close = (a.to_numpy(dtype=object) == b.to_numpy(dtype=object)).astype(bool)
    return np.asarray(~((na_a & na_b) | (~na_a & ~na_b & close)), dtype=bool)


@dataclass(frozen=True, slots=True)
class _Shape:
    """How to read a frame: its time column, identity columns, the columns compared, the name columns."""

    time: str
    key: tuple[str, ...]
    compared: tuple[str, ...]
    name: str
    direction: str = "direction"


def _leaks_at(full: pd.DataFrame, cut_frame: pd.DataFrame, cut_ns: int, shape: _Shape) -> tuple[list[Leak], int]:
    """Leaks of one cut and how many candidates it compared."""
    cut_ts = pd.Timestamp(cut_ns, unit="ns", tz="UTC")
    expected = full[full[shape.time] <= cut_ts]
    actual = cut_frame[cut_frame[shape.time] <= cut_ts]
    key = list(shape.key)
    merged = expected.merge(actual, on=key, how="outer", suffixes=("", "__cut"), indicator=True)
    leaks: list[Leak] = []
    cut = _utc(cut_ns)

    def leak(row: pd.Series, change: str, side: str = "") -> Leak:
        ts = pd.Timestamp(row[shape.time + side] if shape.time not in key else row[shape.time])
        return Leak(cut, ts.to_pydatetime(), str(row[shape.name]), str(row[shape.direction]), change)

    gone = [row for _, row in merged[merged["_merge"] == "left_only"].iterrows()]
    new = [row for _, row in merged[merged["_merge"] == "right_only"].iterrows()]
    ident = [c for c in key if c != shape.time]
    for row in gone:
        # The same setup and direction at another time in the cut run: the candidate moved.
        match = next((j for j, other in enumerate(new) if all(other[c] == row[c] for c in ident)), None)
        if match is None or shape.time not in key:
            leaks.append(leak(row, "vanishes when the bars after the cut are removed"))
            continue
        moved_to = pd.Timestamp(new.pop(match)[shape.time]).tz_convert(CT)
        leaks.append(leak(row, f"moves to {moved_to:%Y-%m-%d %H:%M} CT when the bars after the cut are removed"))
    for row in new:
        leaks.append(leak(row, "appears only when the bars after the cut are removed", "__cut"))
    both = merged[merged["_merge"] == "both"]
    columns = [c for c in shape.compared if c not in key and c in expected.columns and c + "__cut" in both.columns]
    if len(both) and columns:
        diff = {c: _differs(both[c], both[c + "__cut"]) for c in columns}
        changed = np.logical_or.reduce(list(diff.values()))
        for i in np.flatnonzero(changed):
            row = both.iloc[i]
            parts = [f"{c}: {_show(row[c])} -> {_show(row[c + '__cut'])}" for c in columns if diff[c][i]]
            more = f" (+{len(parts) - 3} more)" if len(parts) > 3 else ""
            leaks.append(leak(row, "; ".join(parts[:3]) + more))
    return leaks, len(expected)


def check(
    run: Run,
    full: pd.DataFrame,
    bars: pd.DataFrame,
    span: pd.Timedelta,
    shape: _Shape,
    cuts: int,
    seed: int,
    progress: Progress | None,
) -> tuple[pd.DataFrame, int, int, list[Leak]]:
    """Rerun at each cut and compare with `full` (the run on all bars): the cut count, comparisons, leaks."""
    close_ns = np.asarray(pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64) + int(span.value)
    known = np.asarray(pd.DatetimeIndex(full[shape.time]).as_unit("ns").asi8, dtype=np.int64)
    times = choose_cuts(close_ns, known, cuts, seed)
    leaks: list[Leak] = []
    compared = 0
    for done, cut_ns in enumerate(times.tolist(), start=1):
        end = int(np.searchsorted(close_ns, cut_ns, side="right"))
        try:
            cut_frame = run(bars.iloc[:end])
        except (ConfigError, DataError) as exc:  # say which cut broke the setup (a SetupError is a ConfigError)
            when = pd.Timestamp(cut_ns, unit="ns", tz="UTC").tz_convert(CT)
            raise type(exc)(f"{exc} (on the bars up to {when:%Y-%m-%d %H:%M} CT)") from None
        found, n = _leaks_at(full, cut_frame, cut_ns, shape)
        leaks += found
        compared += n
        if progress is not None:
            progress(done, times.size)
    leaks.sort(key=lambda leak: (leak.cut, leak.ts, leak.name, leak.direction))
    return full, int(times.size), compared, leaks


def _report(subject: str, bars: pd.DataFrame, result: tuple[pd.DataFrame, int, int, list[Leak]]) -> LookaheadReport:
    full, n_cuts, compared, leaks = result
    return LookaheadReport(
        subject=subject,
        bars=len(bars),
        first_bar=pd.Timestamp(bars.index[0]).to_pydatetime(),
        last_bar=pd.Timestamp(bars.index[-1]).to_pydatetime(),
        candidates=len(full),
        cuts=n_cuts,
        compared=compared,
        leaks=tuple(leaks),
    )


def lookahead_setups(
    bars: pd.DataFrame,
    setups: SetupSet,
    timeframe: Timeframe,
    *,
    cuts: int = 50,
    seed: int = 0,
    progress: Progress | None = None,
) -> LookaheadReport:
    """Check every setup of `setups` on `bars` (validated, UTC open-time index, `timeframe` bars)."""
    if len(bars) < 2:
        raise ConfigError("lookahead: need at least two bars")

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        return setups.detect(frame, timeframe)

    full = run(bars)
    shape = _Shape(time="ts", key=SETUP_KEY, compared=tuple(full.columns), name="setup_type")
    result = check(run, full, bars, pd.Timedelta(timeframe.span), shape, cuts, seed, progress)
    return _report(f"setups {', '.join(setups.names)}", bars, result)


def lookahead_scanner(
    bars: pd.DataFrame,
    config: ScanConfig | None = None,
    vix: pd.Series | None = None,
    *,
    cuts: int = 50,
    seed: int = 0,
    progress: Progress | None = None,
) -> LookaheadReport:
    """Check the measured-move scanner's signals on base bars (1m or 5m); VIX: synthetic from `bars`."""
    if len(bars) < 2:
        raise ConfigError("lookahead: need at least two bars")
    config = config or ScanConfig()
    vix = synthetic_vix(bars) if vix is None else vix

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        return scan_bars(frame, config, vix)

    shape = _Shape(time="confirmed_at", key=SCANNER_KEY, compared=SCANNER_COMPARED, name="timeframe")
    result = check(run, run(bars), bars, base_span(bars), shape, cuts, seed, progress)
    return _report("measured-move scanner", bars, result)


def _clip(bars: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    if len(bars) == 0 or (start is None and end is None):
        return bars
    days = trading_days(pd.DatetimeIndex(bars.index))
    keep = np.ones(len(bars), dtype=bool)
    if start is not None:
        keep &= days >= np.datetime64(start)
    if end is not None:
        keep &= days <= np.datetime64(end)
    return bars[keep]


def load_bars_for(req: LookaheadRequest, settings: Settings) -> tuple[pd.DataFrame, Timeframe]:
    """The bars of the request, through the backtest's loader."""
    timeframe = Timeframe.parse(req.timeframe)
    if timeframe not in (Timeframe.M1, Timeframe.M5):
        raise ConfigError(f"--timeframe {req.timeframe}: lookahead runs on 1m or 5m bars")
    loader = BacktestRequest(
        source=req.source,
        file=req.file,
        start=req.start,
        end=req.end,
        days=req.days,
        timeframe=req.timeframe,
        seed=req.seed,
    )
    bars = load_path_bars(loader, settings, timeframe)
    if req.source in ("file", "synthetic"):
        bars = _clip(bars, req.start, req.end)
    if len(bars) < 2:
        raise ConfigError("no bars in the requested range")
    return bars, timeframe


def run_lookahead(
    req: LookaheadRequest, settings: Settings | None = None, progress: Progress | None = None
) -> LookaheadReport:
    """Load the bars, resolve the setups (or take the scanner) and check them."""
    settings = settings or load_settings()
    setups = None if req.scanner else resolve_setups(req.setups, req.setup_params)
    bars, timeframe = load_bars_for(req, settings)
    if setups is None:
        return lookahead_scanner(bars, cuts=req.cuts, seed=req.cut_seed, progress=progress)
    return lookahead_setups(bars, setups, timeframe, cuts=req.cuts, seed=req.cut_seed, progress=progress)
