"""Walk-forward validation over trading days: choose on each train window, judge on the next test window.

Windows are counted in trading days (indices into the day axis of a `DayMatrix`). Rolling: fold k
trains on days [s, s + TRAIN) and tests on [s + TRAIN, s + TRAIN + TEST), with s = k * STEP.
Anchored (expanding): the train window always starts at day 0. Only whole test windows are used,
STEP >= TEST so that no day is tested twice, and a test window never overlaps its train window.
The choice of a fold reads the train days only; a fold whose train days give no configuration
enough trades chooses nothing and its test days count as no trade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mesdesk.research.objectives import DayMatrix, DaySums, Objective, objective_values, per_day


@dataclass(frozen=True, slots=True)
class WalkForwardSpec:
    """TRAIN:TEST[:STEP] in trading days; `anchored` makes the train windows expanding."""

    train: int
    test: int
    step: int
    anchored: bool = False

    @staticmethod
    def parse(text: str, anchored: bool = False) -> WalkForwardSpec:
        """`TRAIN:TEST[:STEP]` (whole trading days), e.g. ``60:20`` or ``120:20:40``."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"--walk-forward {text!r}: expected TRAIN:TEST[:STEP] in trading days")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"--walk-forward {text!r}: TRAIN, TEST and STEP must be whole days") from None
        train, test = values[0], values[1]
        step = values[2] if len(values) == 3 else test
        if train < 1 or test < 1:
            raise ValueError(f"--walk-forward {text!r}: a fold with no trading days (TRAIN and TEST must be >= 1)")
        if step < test:
            raise ValueError(f"--walk-forward {text!r}: STEP {step} < TEST {test} would test some days twice")
        return WalkForwardSpec(train, test, step, anchored)

    @staticmethod
    def auto(n_days: int, anchored: bool = False) -> WalkForwardSpec:
        """The default: train on a third of the days, test on a sixth, step by the test window."""
        test = max(1, n_days // 6)
        train = max(2, n_days // 3)
        return WalkForwardSpec(train, test, test, anchored)

    def label(self) -> str:
        return f"{self.train}:{self.test}:{self.step}{' anchored' if self.anchored else ''}"


@dataclass(frozen=True, slots=True)
class Fold:
    """Day indices [train_start, train_end) and [test_start, test_end)."""

    number: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int

    @property
    def train_days(self) -> np.ndarray:
        return np.arange(self.train_start, self.train_end)

    @property
    def test_days(self) -> np.ndarray:
        return np.arange(self.test_start, self.test_end)


def folds(n_days: int, spec: WalkForwardSpec) -> list[Fold]:
    """Every whole fold that fits in `n_days`; a ValueError when none does."""
    out: list[Fold] = []
    s = 0
    while s + spec.train + spec.test <= n_days:
        train_start = 0 if spec.anchored else s
        out.append(Fold(len(out), train_start, s + spec.train, s + spec.train, s + spec.train + spec.test))
        s += spec.step
    if not out:
        raise ValueError(
            f"--walk-forward {spec.train}:{spec.test}: needs at least {spec.train + spec.test} trading days, "
            f"the data has {n_days}"
        )
    return out


@dataclass(frozen=True)
class FoldChoice:
    """What a fold chose (config index or -1) with its in-sample and out-of-sample objective."""

    fold: Fold
    chosen: int
    is_objective: float
    oos_objective: float
    oos_objective_target_first: float
    oos_trades: int


@dataclass(frozen=True)
class WalkForwardResult:
    """The folds' choices, the stitched out-of-sample daily P&L and the efficiency."""

    spec: WalkForwardSpec
    choices: list[FoldChoice]
    oos_days: np.ndarray  # day indices, ascending
    oos_daily_net: np.ndarray  # stop-first daily net of the chosen configuration per OOS day
    oos_daily_net_target_first: np.ndarray
    oos_objective: float  # on the stitched OOS days
    oos_objective_target_first: float
    is_objective: float  # mean of the folds' in-sample objectives (net per day for "net")
    efficiency: float  # OOS / IS objective (NaN when IS is not positive)
    changes: int  # folds whose choice differs from the previous fold's

    @property
    def chosen(self) -> list[int]:
        return [c.chosen for c in self.choices]


def walk_forward(matrix: DayMatrix, spec: WalkForwardSpec, objective: Objective, min_trades: int) -> WalkForwardResult:
    """Choose per fold on its train days only, stitch the test days of each fold's choice."""
    chosen_folds: list[FoldChoice] = []
    oos_days: list[np.ndarray] = []
    sf_days: list[np.ndarray] = []
    tf_days: list[np.ndarray] = []
    for fold in folds(matrix.n_days, spec):
        train_scores = objective_values(matrix.stop_first, fold.train_days, objective, min_trades)
        test = fold.test_days
        oos_days.append(test)
        if np.all(np.isnan(train_scores)):
            chosen_folds.append(FoldChoice(fold, -1, math.nan, math.nan, math.nan, 0))
            sf_days.append(np.zeros(test.size))
            tf_days.append(np.zeros(test.size))
            continue
        best = int(np.nanargmax(train_scores))  # ties: the first configuration, deterministic
        row = slice(best, best + 1)
        oos = objective_values(_rows(matrix.stop_first, row), test, objective, 0)[0]
        oos_tf = objective_values(_rows(matrix.target_first, row), test, objective, 0)[0]
        trades = int(matrix.stop_first.trades[best, test].sum())
        chosen_folds.append(FoldChoice(fold, best, float(train_scores[best]), float(oos), float(oos_tf), trades))
        sf_days.append(matrix.stop_first.net[best, test])
        tf_days.append(matrix.target_first.net[best, test])
    days = np.concatenate(oos_days)
    stitched_sf = _stitched(matrix, chosen_folds, "stop_first")
    stitched_tf = _stitched(matrix, chosen_folds, "target_first")
    oos_obj = float(objective_values(stitched_sf, np.arange(days.size), objective, 0)[0])
    oos_obj_tf = float(objective_values(stitched_tf, np.arange(days.size), objective, 0)[0])
    is_values = [per_day(objective, c.is_objective, c.fold.train_end - c.fold.train_start) for c in chosen_folds]
    finite = [v for v in is_values if math.isfinite(v)]
    is_obj = float(np.mean(finite)) if finite else math.nan
    oos_cmp = per_day(objective, oos_obj, days.size)
    efficiency = oos_cmp / is_obj if math.isfinite(is_obj) and is_obj > 0 and math.isfinite(oos_cmp) else math.nan
    picks = [c.chosen for c in chosen_folds]
    changes = sum(1 for a, b in zip(picks, picks[1:], strict=False) if a != b)
    return WalkForwardResult(
        spec=spec,
        choices=chosen_folds,
        oos_days=days,
        oos_daily_net=np.concatenate(sf_days),
        oos_daily_net_target_first=np.concatenate(tf_days),
        oos_objective=oos_obj,
        oos_objective_target_first=oos_obj_tf,
        is_objective=is_obj,
        efficiency=efficiency,
        changes=changes,
    )


def _rows(sums: DaySums, row: slice) -> DaySums:
    return DaySums(sums.net[row], sums.trades[row], sums.gains[row], sums.losses[row])


def _stitched(matrix: DayMatrix, choices: list[FoldChoice], side: str) -> DaySums:
    """A one-row DaySums of the chosen configuration on each fold's test days, concatenated."""
    sums = matrix.stop_first if side == "stop_first" else matrix.target_first
    parts: list[DaySums] = []
    for c in choices:
        test = c.fold.test_days
        if c.chosen < 0:
            parts.append(DaySums.zeros(1, test.size))
            continue
        r = c.chosen
        parts.append(
            DaySums(
                sums.net[r, test][None],
                sums.trades[r, test][None],
                sums.gains[r, test][None],
                sums.losses[r, test][None],
            )
        )
    fields = ("net", "trades", "gains", "losses")
    return DaySums(*(np.concatenate([getattr(p, f) for p in parts], axis=1) for f in fields))
