"""Walk-forward windows never overlap their test window, and no test day ever chooses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mesdesk.research.objectives import DayMatrix, DaySums
from mesdesk.research.walkforward import WalkForwardSpec, folds, walk_forward


def _matrix(net: np.ndarray, trades: np.ndarray | None = None) -> DayMatrix:
    t = np.ones_like(net, dtype=np.int64) if trades is None else trades
    gains, losses = np.where(net > 0, net, 0.0), np.where(net < 0, -net, 0.0)
    sums = DaySums(net, t, gains, losses)
    days = np.datetime64("2025-01-01") + np.arange(net.shape[1]).astype("timedelta64[D]")
    return DayMatrix(days, sums, DaySums(net + 0.1, t, gains + 0.1, losses))


def test_rolling_folds_by_hand() -> None:
    spec = WalkForwardSpec.parse("4:2")
    got = [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds(11, spec)]
    assert got == [(0, 4, 4, 6), (2, 6, 6, 8), (4, 8, 8, 10)]


def test_anchored_folds_expand_from_day_zero() -> None:
    spec = WalkForwardSpec.parse("4:2:3", anchored=True)
    got = [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds(12, spec)]
    assert got == [(0, 4, 4, 6), (0, 7, 7, 9), (0, 10, 10, 12)]


@pytest.mark.parametrize("text", ["4:2", "5:3:4", "10:1"])
@pytest.mark.parametrize("anchored", [False, True])
def test_test_windows_follow_their_train_window_and_never_repeat(text: str, anchored: bool) -> None:
    fl = folds(40, WalkForwardSpec.parse(text, anchored))
    tested: list[int] = []
    for f in fl:
        assert set(f.train_days).isdisjoint(f.test_days)
        assert f.train_days.max() < f.test_days.min()  # only the past chooses
        tested += f.test_days.tolist()
    assert len(tested) == len(set(tested))


@pytest.mark.parametrize(
    ("text", "message"),
    [("0:5", "no trading days"), ("5:0", "no trading days"), ("5:3:2", "twice"), ("5", "TRAIN:TEST"), ("a:b", "whole")],
)
def test_bad_windows_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WalkForwardSpec.parse(text)


def test_more_folds_than_days_is_refused() -> None:
    with pytest.raises(ValueError, match="needs at least 30 trading days, the data has 20"):
        folds(20, WalkForwardSpec.parse("20:10"))


def test_no_test_day_is_ever_used_to_choose() -> None:
    rng = np.random.default_rng(5)
    net = rng.normal(0.0, 1.0, size=(8, 30))
    spec = WalkForwardSpec.parse("10:5")
    before = walk_forward(_matrix(net), spec, "net", 1)
    for fold in folds(30, spec):
        planted = net.copy()
        # Whatever happens on this fold's test days (and later), the fold's choice is the same.
        planted[:, fold.test_start :] = rng.normal(0.0, 50.0, size=(8, 30 - fold.test_start))
        planted[3, fold.test_start :] += 1000.0
        after = walk_forward(_matrix(planted), spec, "net", 1)
        assert after.choices[fold.number].chosen == before.choices[fold.number].chosen


def test_choice_oos_stitching_and_efficiency_by_hand() -> None:
    # Two configs, 6 days, folds 2:2 -> folds at [0,2)->[2,4) and [2,4)->[4,6).
    net = np.array([[1.0, 1.0, -1.0, 0.0, 2.0, 2.0], [0.0, 0.0, 3.0, 3.0, 1.0, 1.0]])
    wf = walk_forward(_matrix(net), WalkForwardSpec.parse("2:2"), "net", 1)
    assert wf.chosen == [0, 1]  # fold 0 train: A=2, B=0; fold 1 train: A=-1, B=6
    assert np.array_equal(wf.oos_days, np.arange(2, 6))
    assert np.allclose(wf.oos_daily_net, [-1.0, 0.0, 1.0, 1.0])
    assert wf.oos_objective == pytest.approx(1.0)
    assert wf.changes == 1
    # IS per day: fold 0: 2/2 = 1, fold 1: 6/2 = 3 -> mean 2; OOS per day 1/4 -> efficiency 0.125
    assert wf.efficiency == pytest.approx(0.125)


def test_a_fold_without_enough_trades_chooses_nothing() -> None:
    net = np.ones((2, 6))
    trades = np.zeros((2, 6), dtype=np.int64)
    trades[:, 3:] = 1
    wf = walk_forward(_matrix(net, trades), WalkForwardSpec.parse("3:3"), "net", 1)
    assert wf.chosen == [-1]
    assert math.isnan(wf.is_objective)
    assert np.all(wf.oos_daily_net == 0.0)
