"""The compiled path gives the loop's journal and trades exactly, over many random markets and configs.

DESIGN.md: a faster path is allowed only with a test that it gives identical trades and journals.
Each case builds a random market (gaps, bars that gap through levels, wide bars holding stop and
target, DST and early-close days, data ending mid-session) and random candidates (ties, several per
decision time, outside the windows), runs `run_backtest` with the loop and with the kernel, and
compares journal and trades with `assert_frame_equal` (exact). A coverage check makes sure every exit
reason, every gate refusal and ambiguous bars actually occurred across the cases.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesdesk.calendar import trading_days
from mesdesk.config import Settings
from mesdesk.data.registry import HistoryRequest
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import BracketConfig, EngineConfig, ExecutionConfig, RiskLimits, SessionConfig, run_backtest
from mesdesk.engine import fast as fast_module
from mesdesk.engine.fast import fast_journal
from mesdesk.engine.journal import TRADE_COLUMNS, trade_result, trades_from_journal
from mesdesk.engine.kernel import round10
from mesdesk.engine.loop import EngineResult, infer_span
from mesdesk.engine.risk import close_time_utc
from mesdesk.pathbars import PathBars
from mesdesk.services.root import Root
from mesdesk.timeframes import Timeframe

CT = "America/Chicago"
# Around the 2025 spring DST change (Sunday 9 March) and the day after Thanksgiving (early close).
DAYS = ["2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-11-26", "2025-11-28", "2025-12-01"]
EARLY = {date(2025, 11, 28): time(12, 15)}


def market(rng: np.random.Generator, days: list[str], *, end_mid_session: bool) -> pd.DataFrame:
    """1m bars 07:45-15:20 CT (evening bars on some days), a tick random walk with gaps and wide bars."""
    frames = []
    price = 5000.0
    for k, day in enumerate(days):
        first = pd.Timestamp(f"{day} 07:45", tz=CT).tz_convert("UTC")
        n = 455
        if k == 0:
            first -= pd.Timedelta(hours=12)  # the evening session of the first trading day
            n += 720
        steps = np.round(rng.normal(0, rng.choice([0.1, 0.3, 0.6, 1.0]), n) * 4) / 4
        jumps = rng.random(n) < 0.02  # opens that gap through levels
        steps[jumps] += np.round(rng.normal(0, 3.0, int(jumps.sum())) * 4) / 4
        close = price + np.cumsum(steps)
        open_ = np.r_[price, close[:-1]] + np.where(jumps, np.round(rng.normal(0, 1.5, n) * 4) / 4, 0.0)
        wide = rng.random(n) < 0.05  # bars holding both a stop and a target
        wick = np.round(np.abs(rng.normal(0, 0.4, (2, n))) * 4) / 4 + np.where(wide, 1.5, 0.0)
        frame = pd.DataFrame(
            {
                "open": open_,
                "high": np.maximum(open_, close) + wick[0],
                "low": np.minimum(open_, close) - wick[1],
                "close": close,
                "volume": np.full(n, 100, dtype=np.int64),
            },
            index=pd.date_range(first, periods=n, freq="1min", name="ts").as_unit("ns"),
        )
        keep = rng.random(n) > 0.03  # missing minutes (no invented bars)
        frames.append(frame[keep])
        price = float(close[-1])
    bars = pd.concat(frames)
    if end_mid_session:
        bars = bars.loc[: pd.Timestamp(f"{days[-1]} 10:05", tz=CT).tz_convert("UTC")]
    return bars


def candidates(rng: np.random.Generator, bars: pd.DataFrame, span: pd.Timedelta, *, with_passed: bool) -> pd.DataFrame:
    """Random candidates at bar closes: ties in score, several at one close, both directions."""
    n = len(bars)
    picks = np.sort(rng.choice(n, size=max(1, n // int(rng.choice([3, 6, 12]))), replace=True))
    ts = pd.DatetimeIndex(bars.index[picks] + span).as_unit("ns")
    scores = rng.choice([50.0, 70.0, 74.9, 75.0, 80.0, 85.5, 90.0, 95.0, 100.0], size=picks.size)
    frame = pd.DataFrame(
        {
            "ts": ts,
            "bar_index": picks.astype(np.int64),
            "setup_type": rng.choice(["ORB_retest_go", "EMA20_pullback", "VWAP_rejection"], size=picks.size),
            "direction": rng.choice(["long", "short"], size=picks.size),
            "ref_entry": bars["close"].to_numpy()[picks],
            "prefilter_score": scores,
            "volume_multiple": rng.uniform(0.5, 3.0, picks.size),
            "atr_5m": rng.uniform(0.5, 2.0, picks.size),
            "session_label": "rth_a",
            "trading_day": trading_days(ts),
            "dist_vwap_atr": rng.normal(0, 1, picks.size),
        }
    )
    if with_passed:
        frame.insert(6, "passed_prefilter", scores >= 75.0)
    return frame


def random_config(rng: np.random.Generator) -> EngineConfig:
    def pick(values: list[object]) -> object:
        return values[int(rng.integers(len(values)))]

    bracket = BracketConfig(
        tp_pts=float(pick([0.5, 1.0, 1.25, 2.0, 3.0, 12.0, 40.0])),
        sl_pts=float(pick([0.5, 0.75, 1.5, 2.5, 12.0, 40.0])),
        breakeven_at_pts=pick([None, 0.25, 0.5, 1.0]),  # type: ignore[arg-type]
        trail_after_pts=pick([None, 0.5, 1.0, 1.5]),  # type: ignore[arg-type]
        trail_distance_pts=float(pick([0.25, 0.5, 0.75])),
        trail_step_pts=float(pick([0.25, 0.5])),
    )
    execution = ExecutionConfig(
        slippage_ticks=int(pick([0, 1, 2])),
        commission_usd_per_side=float(pick([0.0, 0.62, 1.1])),
        target_fill=pick(["through", "touch"]),  # type: ignore[arg-type]
        ambiguous_policy=pick(["stop_first", "target_first"]),  # type: ignore[arg-type]
        batch_window_s=int(pick([0, 30, 60, 300])),
    )
    limits = RiskLimits(
        max_trades=int(pick([1, 2, 3, 6, 20])),
        stop_after_losses=int(pick([1, 2, 3, 10])),
        daily_point_stop=float(pick([-0.5, -1.0, -2.0, -3.0, -20.0])),
    )
    session = SessionConfig(
        flat_at=pick([time(15, 0), time(15, 15), time(11, 0)]),  # type: ignore[arg-type]
        early_closes=MappingProxyType(dict(EARLY) if rng.random() < 0.7 else {}),
    )
    return EngineConfig(bracket, execution, limits, session, prefilter_threshold=float(pick([60.0, 75.0, 90.0])))


def both(
    bars: pd.DataFrame, cands: pd.DataFrame, config: EngineConfig, sub: pd.DataFrame | None, threshold: float
) -> tuple[EngineResult, EngineResult]:
    ref = run_backtest(bars, cands, RuleDecider(threshold), config, sub, kernel="reference")
    fast = run_backtest(bars, cands, RuleDecider(threshold), config, sub, kernel="auto")
    return ref, fast


def assert_same(ref: EngineResult, fast: EngineResult) -> None:
    pd.testing.assert_frame_equal(ref.journal, fast.journal, check_exact=True)
    pd.testing.assert_frame_equal(ref.trades, fast.trades, check_exact=True)


def one_case(seed: int) -> pd.DataFrame:
    """One random market, candidate frame and config; asserts equality and returns the journal."""
    rng = np.random.default_rng(seed)
    days = sorted(rng.choice(DAYS, size=int(rng.integers(2, 5)), replace=False).tolist())
    minute = market(rng, days, end_mid_session=bool(rng.random() < 0.3))
    sub: pd.DataFrame | None = None
    bars = minute
    if rng.random() < 0.4:  # 5m decisions, the 1m path under them
        agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
        bars = minute.resample("5min", label="left", closed="left").agg(agg).dropna()  # type: ignore[arg-type]
        sub = minute
    span = infer_span(pd.DatetimeIndex(bars.index))
    cands = candidates(rng, bars, span, with_passed=bool(rng.random() < 0.5))
    config = random_config(rng)
    threshold = float(rng.choice([60.0, 75.0, 90.0]))
    path = PathBars.from_frame(minute if sub is not None else bars, pd.Timedelta("1min") if sub is not None else span)
    end_ns = max((bars.index[-1] + span).value, int(path.close_ns[-1]))
    assert fast_journal(path, cands, RuleDecider(threshold), config, end_ns) is not None  # the kernel ran
    ref, fast = both(bars, cands, config, sub, threshold)
    assert_same(ref, fast)
    return ref.journal


def test_fast_path_equals_the_loop_over_random_markets_and_configs() -> None:
    journals = [one_case(seed) for seed in range(60)]
    allj = pd.concat(journals, ignore_index=True)
    reasons = set(allj["exit_reason"].dropna())
    assert {"tp", "sl", "be", "trail", "daily_stop", "session_end", "open"} <= reasons
    gates = set(allj["gate"])
    assert {"ok", "below prefilter", "outside window", "position open"} <= gates
    for prefix in ("daily stop ", "stop after ", "max trades "):
        assert any(g.startswith(prefix) for g in gates), prefix
    assert allj["ambiguous"].any()
    assert set(allj["decision"]) >= {"take", "skip", "not_asked"}
    assert len(allj[allj["entry_ts"].notna()]) >= 300


def trades_by_row_selection(journal: pd.DataFrame) -> pd.DataFrame:
    """The trades as the journal's filled rows selected with `.loc`, then shaped (what `trades_from_journal`
    gave before it took each column on its own)."""
    wanted = [c for c in (*TRADE_COLUMNS, "session_label") if c in journal.columns]
    filled = journal.loc[journal["entry_ts"].notna().to_numpy(), wanted]
    own = {
        "result": trade_result(filled["pnl_pts"].to_numpy(), filled["exit_reason"].to_numpy()),
        "session": filled["session_label"].to_numpy() if "session_label" in filled else "",
    }
    columns = {col: own[col] if col in own else filled[col].array for col in TRADE_COLUMNS}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(filled)))


def test_trades_are_the_journals_filled_rows() -> None:
    journal = pd.concat([one_case(seed) for seed in range(8)], ignore_index=True)
    journal["session_label"] = np.array(["rth_a", "rth_b", "globex"], dtype=object)[np.arange(len(journal)) % 3]
    for frame in (
        journal,
        journal.iloc[::-3],  # rows out of order
        journal.iloc[:0],  # no rows
        journal[journal["entry_ts"].isna()],  # no trade
        journal.drop(columns="session_label"),
    ):
        pd.testing.assert_frame_equal(trades_from_journal(frame), trades_by_row_selection(frame), check_exact=True)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=1000, max_value=2**31))
def test_fast_path_equals_the_loop_property(seed: int) -> None:
    one_case(seed)


def test_fast_path_on_the_seed_defaults_with_many_trades() -> None:
    rng = np.random.default_rng(99)
    bars = market(rng, DAYS, end_mid_session=False)
    cands = candidates(rng, bars, pd.Timedelta("1min"), with_passed=True)
    ref, fast = both(bars, cands, EngineConfig(), None, 75.0)
    assert len(ref.trades) >= 12
    assert_same(ref, fast)


def test_environment_switch_runs_the_reference_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    bars = market(rng, DAYS[:2], end_mid_session=False)
    cands = candidates(rng, bars, pd.Timedelta("1min"), with_passed=True)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the compiled path ran")

    monkeypatch.setattr(fast_module, "fast_journal", refuse)
    monkeypatch.setenv("MESDESK_ENGINE", "reference")
    run_backtest(bars, cands, RuleDecider(), EngineConfig())
    monkeypatch.setenv("MESDESK_ENGINE", "auto")
    with pytest.raises(AssertionError, match="compiled path ran"):
        run_backtest(bars, cands, RuleDecider(), EngineConfig())


@pytest.mark.parametrize("where", ["all", "all negative", "walked low", "walked high", "entry open", "flat close"])
def test_prices_beyond_exact_rounding_the_kernel_reads_fall_back_to_the_loop(where: str) -> None:
    rng = np.random.default_rng(8)
    bars = market(rng, DAYS[:2], end_mid_session=False)
    cands = candidates(rng, bars, pd.Timedelta("1min"), with_passed=True)
    wide = BracketConfig(tp_pts=40.0, sl_pts=40.0, breakeven_at_pts=None, trail_after_pts=None)
    config = EngineConfig(bracket=wide, limits=RiskLimits(daily_point_stop=-500.0))  # held to the session's end
    trades = run_backtest(bars, cands, RuleDecider(), config, kernel="reference").trades
    walked = trades[trades["exit_ts"] - trades["entry_ts"] >= pd.Timedelta("3min")].iloc[0]
    inside = bars.index.get_loc(walked["entry_ts"] + pd.Timedelta("1min"))  # a bar after the entry bar
    flat = trades[trades["exit_reason"] == "session_end"]
    if where in ("all", "all negative"):
        bars[["open", "high", "low", "close"]] += 200_000.0 if where == "all" else -210_000.0
    elif where == "walked low":  # a single bar's magnitude is enough
        bars.iloc[inside, bars.columns.get_loc("low")] = -100_000.0
    elif where == "walked high":
        bars.iloc[inside, bars.columns.get_loc("high")] = 100_000.0
    elif where == "entry open":
        bars.iloc[bars.index.get_loc(walked["entry_ts"]), bars.columns.get_loc("open")] = 1e6
    else:
        assert len(flat), "a position held to the session's end"
        bars.iloc[bars.index.get_loc(flat.iloc[0]["exit_ts"] - pd.Timedelta("1min")), bars.columns.get_loc("close")] = (
            1e5
        )
    path = PathBars.from_frame(bars, pd.Timedelta("1min"))
    assert fast_journal(path, cands, RuleDecider(), config, int(path.close_ns[-1])) is None
    ref, fast = both(bars, cands, config, None, 75.0)
    assert_same(ref, fast)


def test_a_large_price_no_position_reads_leaves_the_kernel_running() -> None:
    rng = np.random.default_rng(8)
    bars = market(rng, DAYS[:2], end_mid_session=False)
    cands = candidates(rng, bars, pd.Timedelta("1min"), with_passed=True)
    bars.iloc[0, bars.columns.get_loc("low")] = -100_000.0  # before every candidate: no position reads it
    path = PathBars.from_frame(bars, pd.Timedelta("1min"))
    assert fast_journal(path, cands, RuleDecider(), EngineConfig(), int(path.close_ns[-1])) is not None
    ref, fast = both(bars, cands, EngineConfig(), None, 75.0)
    assert_same(ref, fast)


def test_round10_is_pythons_round() -> None:
    rng = np.random.default_rng(1)
    ticks = np.round(rng.uniform(-8000, 8000, 20000) * 4) / 4
    sums = ticks + rng.choice([0.0, 0.248, -0.248, 0.124, 1e-12, -3e-11], ticks.size)
    noise = rng.uniform(-99_999.0, 99_999.0, 20000)
    small = rng.normal(0, 1e-9, 5000)
    # Values next to a half unit of the 10th decimal, where a naive x * 1e10 rounding goes wrong.
    halves = (rng.integers(-(10**14), 10**14, 5000) + 0.5) / 1e10
    near = np.concatenate([np.nextafter(halves, math.inf), np.nextafter(halves, -math.inf), halves])
    for x in np.concatenate([ticks, sums, noise, small, near, [0.0, -0.0, 4e-11, -4e-11, math.nan, math.inf]]):
        got, want = round10(float(x)), round(float(x), 10)
        assert got == want or (math.isnan(got) and math.isnan(want)), x
        assert math.copysign(1.0, got) == math.copysign(1.0, want), x


def _root_runs(bars: pd.DataFrame, sub: pd.DataFrame | None, timeframe: Timeframe) -> int:
    root = Root(Settings(_env_file=None))
    config = root.engine_config()
    cands = root.setups().detect(bars, timeframe)
    trades = 0
    for policy in ("stop_first", "target_first"):
        cfg = replace(config, execution=replace(config.execution, ambiguous_policy=policy))  # type: ignore[arg-type]
        ref = run_backtest(bars, cands, RuleDecider(), cfg, sub, kernel="reference")
        fast = run_backtest(bars, cands, RuleDecider(), cfg, sub, kernel="auto")
        assert_same(ref, fast)
        trades += len(ref.trades)
    return trades


def test_fast_path_on_the_synthetic_default_backtest() -> None:
    root = Root(Settings(_env_file=None))
    bars = root.history("synthetic", HistoryRequest(timeframe=Timeframe.M1, days=20, placeholders="drop"))
    assert _root_runs(bars, None, Timeframe.M1) > 0


def test_fast_path_on_real_es_bars(es_1m_and_5m: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    one, five = es_1m_and_5m
    assert _root_runs(one, None, Timeframe.M1) > 0
    assert _root_runs(five, one, Timeframe.M5) > 0


def test_day_close_instants_equal_close_time_utc_over_dst_gaps_and_repeated_hours() -> None:
    """The vectorised flat instants are `close_time_utc`'s (cut to microseconds) on every day of 30 years."""
    days = np.arange(np.datetime64("2000-01-01"), np.datetime64("2030-12-31"))
    early = {date(2025, 3, 9): time(2, 30), date(2025, 11, 2): time(1, 30, 0, 250)}  # a gap, a repeated hour
    rng = np.random.default_rng(6)
    for k in rng.choice(days.size, 300, replace=False).tolist():
        early[days[k].item()] = time(int(rng.integers(0, 24)), int(rng.integers(0, 60)), 0, int(rng.integers(0, 10**6)))
    session = SessionConfig(flat_at=time(15, 15), early_closes=MappingProxyType(early))
    flat, close_tod = fast_module._day_close_ns(days, session)
    for k, day in enumerate(days.tolist()):
        close = session.close_on(day)
        want = close_time_utc(day, close)
        assert flat[k] == (want - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000, day
        assert close_tod[k] == ((close.hour * 60 + close.minute) * 60 + close.second) * 10**9 + close.microsecond * 1000
    empty_flat, empty_tod = fast_module._day_close_ns(days[:0], session)
    assert empty_flat.size == empty_tod.size == 0
