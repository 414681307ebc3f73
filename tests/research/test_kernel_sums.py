"""The sweep's compiled path (`KernelSums`) gives the per-day sums of the trade path bit for bit.

`Evaluator.sums` runs the kernel straight into per-day sums; the reference is `config_sums` of
`Evaluator.run`, the trades `mesdesk backtest` gives (tests/research/test_evaluate.py). Both are
compared with `np.array_equal`, not approximately: the sweep's tables, walk-forward and CSCV must not
depend on which path ran.
"""

from __future__ import annotations

from datetime import time
from itertools import product

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesdesk.config import Settings
from mesdesk.engine import EngineConfig
from mesdesk.research.evaluate import Evaluator, KernelSums, config_sums, setup_key
from mesdesk.research.params import Value
from mesdesk.services.root import Root
from mesdesk.timeframes import Timeframe


def _assert_same(evaluator: Evaluator, assignment: dict[str, Value]) -> bool:
    """The two paths agree on `assignment`; returns whether its stop-first run met an ambiguous bar."""
    fast = KernelSums(evaluator.bars, evaluator.sub_bars, evaluator.timeframe, evaluator.base, evaluator.days)
    got = fast.sums(setup_key(assignment), evaluator.candidates(assignment), assignment, evaluator.default_prefilter)
    assert got is not None, f"the kernel path fell back on {assignment}"
    run = evaluator.run(assignment)
    want = config_sums(run, evaluator.days)
    assert np.array_equal(got.stop_first, want.stop_first), assignment
    assert np.array_equal(got.target_first, want.target_first), assignment
    assert np.array_equal(evaluator.sums(assignment).stop_first, want.stop_first)
    return bool(run.stop_first["ambiguous"].astype(bool).any())


@pytest.fixture(name="cut")
def fixture_cut(bars: pd.DataFrame, base: EngineConfig) -> Evaluator:
    """The synthetic days cut in the middle of the last session: a position may still be open at the end."""
    return Evaluator(bars.iloc[: len(bars) - 150], Timeframe.M1, base)


def test_a_grid_over_every_kind_of_parameter(cut: Evaluator) -> None:
    grid = product(
        [0.25, 1.25, 3.0],  # tp
        [0.25, 0.75],  # sl
        [None, 0.5],  # breakeven
        [1, 3],  # max trades
        [60.0, 75.0],  # prefilter threshold
    )
    ambiguous = 0
    for tp, sl, be, max_trades, prefilter in grid:
        assignment: dict[str, Value] = {
            "bracket.tp_pts": tp,
            "bracket.sl_pts": sl,
            "bracket.breakeven_at_pts": be,
            "limits.max_trades": max_trades,
            "prefilter.threshold": prefilter,
        }
        ambiguous += _assert_same(cut, assignment)
    assert ambiguous > 0  # the target-first branch ran


def test_session_decider_and_setup_parameters(cut: Evaluator) -> None:
    for assignment in (
        {"decider.threshold": 85.0},
        {"decider.threshold": 60.0, "prefilter.threshold": 70.0},
        {"session.rth_a.end": time(9, 0), "session.flat_at": time(14, 0)},
        {"limits.daily_point_stop": -0.5, "limits.stop_after_losses": 1},
        {"bracket.trail_after_pts": 0.5, "bracket.trail_distance_pts": 0.25},
        {"setup.VWAP_rejection.fresh_bars": 3, "bracket.tp_pts": 0.5},
        {"prefilter.threshold": 100.0},  # (almost) nothing passes
    ):
        _assert_same(cut, dict(assignment))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tp=st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.25, 2.0, 4.0]),
    sl=st.sampled_from([0.25, 0.5, 0.75, 1.5, 3.0]),
    be=st.sampled_from([None, 0.25, 0.5, 1.0]),
    trail=st.sampled_from([None, 0.5, 1.0]),
    max_trades=st.integers(1, 8),
    losses=st.integers(1, 4),
    daily_stop=st.sampled_from([-0.5, -1.5, -3.0, -10.0]),
    prefilter=st.sampled_from([0.0, 55.0, 65.0, 75.0, 85.0]),
)
def test_random_configurations(
    cut: Evaluator,
    tp: float,
    sl: float,
    be: float | None,
    trail: float | None,
    max_trades: int,
    losses: int,
    daily_stop: float,
    prefilter: float,
) -> None:
    _assert_same(
        cut,
        {
            "bracket.tp_pts": tp,
            "bracket.sl_pts": sl,
            "bracket.breakeven_at_pts": be,
            "bracket.trail_after_pts": trail,
            "limits.max_trades": max_trades,
            "limits.stop_after_losses": losses,
            "limits.daily_point_stop": daily_stop,
            "prefilter.threshold": prefilter,
        },
    )


def test_reference_engine_requested_falls_back(cut: Evaluator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESDESK_ENGINE", "reference")
    fast = KernelSums(cut.bars, None, cut.timeframe, cut.base, cut.days)
    assert fast.sums(setup_key({}), cut.candidates({}), {}, cut.default_prefilter) is None
    want = config_sums(cut.run({}), cut.days)
    assert np.array_equal(cut.sums({}).stop_first, want.stop_first)


def test_real_es_bars_five_minute_decisions_on_one_minute_paths(
    es_1m_and_5m: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    one, five = es_1m_and_5m
    root = Root(Settings(_env_file=None))
    evaluator = Evaluator(five, Timeframe.M5, root.engine_config(), sub_bars=one)
    ambiguous = 0
    for tp, sl, prefilter in product([0.5, 1.25, 2.5], [0.5, 0.75, 2.0], [60.0, 75.0]):
        assignment: dict[str, Value] = {"bracket.tp_pts": tp, "bracket.sl_pts": sl, "prefilter.threshold": prefilter}
        ambiguous += _assert_same(evaluator, assignment)
    assert ambiguous > 0
