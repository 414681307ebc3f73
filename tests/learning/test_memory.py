from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from mesdesk.learn.fingerprints import FingerprintConfig, FingerprintStats, fingerprint_id, fingerprint_key
from mesdesk.learn.memory import LearningConfig, LearningMemory
from mesdesk.outcome import Outcome

T0 = datetime(2025, 9, 16, 13, 30, tzinfo=UTC)  # 08:30 CT
FEATS = {
    "prefilter_score": 82.0,
    "volume_multiple": 1.4,
    "atr_5m": 3.0,
    "ref_entry": 6600.0,
    "dist_vwap_atr": 0.2,
    "dist_ema_atr": 0.1,
    "minutes_since_open": 15.0,
}


def outcome(
    i: int, pnl: float, *, resolved_min: int, feats: dict[str, float] | None = None, cf: bool = False
) -> Outcome:
    decided = T0 + timedelta(minutes=resolved_min - 5)
    return Outcome(
        key=f"c{i}",
        setup="ORB_retest_go",
        direction="long",
        session="rth_a",
        decided_at=decided,
        resolved_at=T0 + timedelta(minutes=resolved_min),
        pnl_pts=pnl,
        counterfactual=cf,
        features=feats or FEATS,
    )


def test_key_is_stable_and_buckets_features() -> None:
    cfg = FingerprintConfig()
    key = fingerprint_key("ORB_retest_go", "long", "rth_a", FEATS, cfg)
    assert key == "ORB_retest_go|long|rth_a|pf1|vm1|atr0|vw1|em1|t0"
    assert fingerprint_id(key).startswith("orb_")
    assert len(fingerprint_id(key)) == 10
    nan_key = fingerprint_key("ORB_retest_go", "long", "rth_a", {**FEATS, "volume_multiple": float("nan")}, cfg)
    assert "|vmx|" in nan_key


def test_status_ladder_uses_an_interval_not_a_raw_rate() -> None:
    cfg = FingerprintConfig(min_samples=10, gold_samples=20)
    s = FingerprintStats("k")
    for _ in range(3):
        s.add(1.25, T0)
    assert s.win_rate == 100.0
    assert s.status(cfg) == "probation"
    losing = FingerprintStats("k")
    for i in range(16):
        losing.add(-0.9 if i % 8 else 1.1, T0)  # 2 wins in 16: mean -0.65, clearly negative
    assert losing.status(cfg) == "blocked"
    mixed = FingerprintStats("k")
    for i in range(12):
        mixed.add(1.1 if i % 2 else -0.9, T0)  # mean +0.1, interval straddles 0
    assert mixed.status(cfg) == "active"
    gold = FingerprintStats("k")
    for i in range(24):
        gold.add(1.1 if i % 6 else -0.9, T0)
    assert gold.status(cfg) == "gold"


def test_outcome_counts_only_once_resolved() -> None:
    mem = LearningMemory()
    mem.add(outcome(1, 1.1, resolved_min=30))
    a = mem.assess(T0 + timedelta(minutes=29), "ORB_retest_go", "long", "rth_a", FEATS)
    assert a.samples == 0
    b = mem.assess(T0 + timedelta(minutes=30), "ORB_retest_go", "long", "rth_a", FEATS)
    assert b.samples == 1


def test_clock_refuses_to_go_back() -> None:
    mem = LearningMemory()
    mem.advance(T0 + timedelta(minutes=10))
    with pytest.raises(ValueError, match="must not go back"):
        mem.advance(T0)


def test_reordering_the_future_does_not_change_a_past_decision() -> None:
    rng = random.Random(3)
    past = [outcome(i, rng.choice([1.1, -0.9, -0.9]), resolved_min=i) for i in range(1, 40)]
    future = [outcome(100 + i, rng.choice([1.1, -0.9]), resolved_min=60 + i) for i in range(40)]
    decision_at = T0 + timedelta(minutes=45)

    def assess_with(fut: list[Outcome]) -> tuple[object, ...]:
        mem = LearningMemory()
        mem.extend(past + fut)  # everything is handed over up front, as a backtest would
        a = mem.assess(decision_at, "ORB_retest_go", "long", "rth_a", FEATS)
        return (a.samples, a.win_rate, a.expectancy, a.status, a.veto, a.negative)

    base = assess_with(future)
    shuffled = future[:]
    rng.shuffle(shuffled)
    flipped = [outcome(int(o.key[1:]), -o.pnl_pts, resolved_min=70 + j) for j, o in enumerate(future)]
    assert assess_with(shuffled) == base
    assert assess_with(flipped) == base
    assert assess_with([]) == base


def test_hard_negative_vetoes_a_candidate_near_losers_and_names_one() -> None:
    mem = LearningMemory(LearningConfig(backoff=False))  # the negatives alone
    for i in range(10):
        mem.add(outcome(i, -0.9 if i != 3 else 0.2, resolved_min=i + 1))
    a = mem.assess(T0 + timedelta(minutes=20), "ORB_retest_go", "long", "rth_a", FEATS)
    assert a.negative is not None
    assert a.veto
    assert a.negative.neighbors == 10
    assert a.negative.nearest_loss_key.startswith("c")
    assert a.negative.nearest_loss_key != "c3"
    assert "hard negative" in a.reason
    far = {**FEATS, "dist_vwap_atr": 3.0, "minutes_since_open": 200.0}
    b = mem.assess(T0 + timedelta(minutes=21), "ORB_retest_go", "long", "rth_a", far)
    assert b.negative is None
    assert not b.veto
    other_side = mem.assess(T0 + timedelta(minutes=22), "ORB_retest_go", "short", "rth_a", FEATS)
    assert other_side.negative is None


def test_winners_nearby_are_no_hard_negative() -> None:
    mem = LearningMemory()
    for i in range(12):
        mem.add(outcome(i, 1.1 if i % 2 else -0.9, resolved_min=i + 1))
    a = mem.assess(T0 + timedelta(minutes=20), "ORB_retest_go", "long", "rth_a", FEATS)
    assert a.negative is None
    assert not a.veto


def test_trailing_win_rate_counts_real_trades_only() -> None:
    mem = LearningMemory()
    mem.add(outcome(1, 1.1, resolved_min=1))
    mem.add(outcome(2, -0.9, resolved_min=2))
    mem.add(outcome(3, -0.9, resolved_min=3, cf=True))
    mem.advance(T0 + timedelta(minutes=5))
    assert mem.trailing_win_rate() == pytest.approx(0.5)


def test_duplicate_outcomes_are_counted_once() -> None:
    mem = LearningMemory()
    o = outcome(1, 1.1, resolved_min=1)
    mem.add(o)
    mem.add(o)
    mem.advance(T0 + timedelta(minutes=5))
    assert mem.resolved_count == 1


def test_probation_fingerprint_backs_off_to_its_blocked_parent() -> None:
    mem = LearningMemory()
    spread = [
        {**FEATS, "minutes_since_open": m, "prefilter_score": p}
        for m in (10.0, 60.0, 200.0)
        for p in (70.0, 85.0, 95.0)
    ]
    for i in range(18):  # 18 losers spread over 9 fine fingerprints: each has 2, the parent 18
        mem.add(outcome(i, -1.2 if i % 6 else -0.9, resolved_min=i + 1, feats=spread[i % 9]))
    novel = {**FEATS, "dist_vwap_atr": 2.0, "dist_ema_atr": 2.0}  # a fine fingerprint never seen
    a = mem.assess(T0 + timedelta(minutes=30), "ORB_retest_go", "long", "rth_a", novel)
    assert a.status == "probation"
    assert a.samples == 0
    assert a.veto
    assert "blocked (18 samples" in a.reason
    other_session = mem.assess(T0 + timedelta(minutes=31), "ORB_retest_go", "long", "rth_b", novel)
    assert not other_session.veto
    strict = LearningMemory(LearningConfig(backoff=False))
    strict.extend(outcome(i, -1.2, resolved_min=i + 1, feats=spread[i % 9]) for i in range(18))
    assert not strict.assess(T0 + timedelta(minutes=30), "ORB_retest_go", "long", "rth_a", novel).veto
