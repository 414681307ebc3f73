"""Calibration by hand-checkable numbers, point-in-time, and the adaptive threshold rule."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from mesdesk.decide.calibration import Calibration, CalibrationConfig, outcomes_from_journal
from mesdesk.outcome import Outcome

T = datetime(2025, 1, 20, 15, 0, tzinfo=UTC)


def _outcome(i: int, conf: float | None, win: bool, *, taken: bool = True, resolved: datetime | None = None) -> Outcome:
    decided = T + timedelta(minutes=i)
    return Outcome(
        key=f"k{i}",
        setup="",
        direction="",
        session="",
        decided_at=decided,
        resolved_at=resolved or decided + timedelta(minutes=5),
        pnl_pts=1.0 if win else -0.75,
        counterfactual=not taken,
        confidence=conf,
    )


def test_shrinkage_pulls_a_thin_bin_toward_the_pooled_rate() -> None:
    cal = Calibration(CalibrationConfig(min_samples=10, prior_strength=10.0))
    # 20 answers at 75 (10 wins) and 5 at 95 (5 wins): pooled 15/25 = 0.6
    outs = [_outcome(i, 75.0, i < 10) for i in range(20)] + [_outcome(20 + i, 95.0, True) for i in range(5)]
    cal.observe(outs)
    later = T + timedelta(days=1)
    # bin 90-100: (5 + 10 * 0.6) / (5 + 10) = 11 / 15
    assert cal.calibrated(95.0, later) == pytest.approx(100.0 * 11 / 15)
    # bin 70-80: (10 + 6) / 30
    assert cal.calibrated(72.0, later) == pytest.approx(100.0 * 16 / 30)
    # an empty bin gets the pooled rate
    assert cal.calibrated(50.0, later) == pytest.approx(60.0)
    rel = cal.reliability(later)
    assert [(r.bin_low, r.n, r.observed_win_rate) for r in rel.rows] == [(70, 20, 50.0), (90, 5, 100.0)]
    # Brier of the stated values: 10*(0.75-1)^2 + 10*(0.75-0)^2 + 5*(0.95-1)^2, over 25
    assert rel.brier_stated == pytest.approx((10 * 0.0625 + 10 * 0.5625 + 5 * 0.0025) / 25)


def test_nothing_applies_before_the_minimum_sample() -> None:
    cal = Calibration(CalibrationConfig(min_samples=30))
    cal.observe([_outcome(i, 80.0, True) for i in range(29)])
    assert cal.calibrated(80.0, T + timedelta(days=1)) is None
    cal.observe([_outcome(29, 80.0, False)])
    assert cal.calibrated(80.0, T + timedelta(days=1)) is not None


def test_only_outcomes_resolved_before_now_count() -> None:
    cal = Calibration(CalibrationConfig(min_samples=1))
    cal.observe([_outcome(0, 90.0, True, resolved=T + timedelta(hours=1))])
    assert cal.calibrated(90.0, T + timedelta(hours=1)) is None  # resolved exactly now: not yet known
    assert cal.calibrated(90.0, T + timedelta(hours=1, seconds=1)) == pytest.approx(100.0)


def test_fallback_answers_carry_no_stated_confidence() -> None:
    cal = Calibration(CalibrationConfig(min_samples=1))
    cal.observe([_outcome(0, None, True)])
    assert cal.reliability(T + timedelta(days=1)).n == 0


@pytest.mark.parametrize(
    ("wins_of_20", "threshold"),
    [(16, 85.0), (13, 88.0), (10, 91.0), (5, 92.0), (19, 82.0), (20, 82.0), (17, 84.0)],
)
def test_threshold_moves_with_the_trailing_20_win_rate(wins_of_20: int, threshold: float) -> None:
    cal = Calibration()
    # 30 older losses, then the last 20 trades: only those 20 count
    cal.observe([_outcome(i, 90.0, False) for i in range(30)])
    cal.observe([_outcome(30 + i, 90.0, i < wins_of_20) for i in range(20)])
    assert cal.threshold(T + timedelta(days=1)) == threshold


def test_threshold_stays_at_base_until_enough_trades_and_ignores_counterfactuals() -> None:
    cal = Calibration()
    cal.observe([_outcome(i, 90.0, False) for i in range(9)])
    cal.observe([_outcome(100 + i, 90.0, False, taken=False) for i in range(50)])
    assert cal.threshold(T + timedelta(days=1)) == 85.0
    cal.observe([_outcome(9, 90.0, False)])
    assert cal.threshold(T + timedelta(days=1)) == 92.0


def test_outcomes_from_an_engine_journal() -> None:
    ts = pd.Timestamp("2025-01-20 15:45", tz="UTC")
    journal = pd.DataFrame(
        {
            "ts": [ts, ts + pd.Timedelta(minutes=1), ts + pd.Timedelta(minutes=2)],
            "decision_ts": [ts + pd.Timedelta(seconds=30)] * 3,
            "setup": ["ORB_retest_go"] * 3,
            "direction": ["long"] * 3,
            "decision": ["take", "over_budget", "take"],
            "decision_source": ["openai:gpt-5-mini"] * 3,
            "confidence": [88.0, 90.0, 86.0],
            "entry_ts": [ts + pd.Timedelta(minutes=1), ts + pd.Timedelta(minutes=2), pd.NaT],
            "exit_ts": [ts + pd.Timedelta(minutes=4), ts + pd.Timedelta(minutes=6), pd.NaT],
            "pnl_pts": [1.0, -0.99, math.nan],
            "counterfactual": [False, False, False],
        }
    )
    outs = outcomes_from_journal(journal)
    assert [(o.win, o.taken, o.confidence) for o in outs] == [(True, True, 88.0), (False, True, None)]
    assert outs[0].resolved_at == datetime(2025, 1, 20, 15, 49, tzinfo=UTC)
