"""The scanner on the real ES bars beside the checkout (skipped when they are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.files import load_bars
from mesdesk.data.vix import synthetic_vix
from mesdesk.setups.measured_move_scan import ScanConfig, scan_bars

OUTCOMES = {"target_100", "target_123_6", "stop", "expiry", "open", "void"}


@pytest.mark.parametrize("name", ["ES_1m_2025-09-15_2025-10-10.csv", "ES_5m_2026-02-17_2026-04-28.csv"])
def test_every_real_signal_obeys_the_rules(shared_data: Path, name: str) -> None:
    bars = load_bars(shared_data / name)
    sig = scan_bars(bars, ScanConfig(), synthetic_vix(bars))
    assert len(sig) > 20
    assert set(sig["outcome"]) <= OUTCOMES
    assert sig["retrace_pct"].between(50.0 - 1e-6, 61.8 + 1e-6).all()
    assert (sig["rr"] >= 2.0 - 1e-9).all()
    assert (sig["a_time"] < sig["b_time"]).all()
    assert (sig["b_time"] < sig["c_time"]).all()
    assert (sig["c_time"] < sig["confirmed_at"]).all()
    traded = sig[sig["entry_at"].notna()]
    assert (traded["entry_at"] >= traded["confirmed_at"]).all()
    s = np.where(sig["direction"] == "long", 1.0, -1.0)
    assert (s * (sig["b_price"] - sig["a_price"]) > 0).all()
    assert (s * (sig["c_price"] - sig["a_price"]) > 0).all()  # C holds above A (below for shorts)
    assert (s * (sig["target_100"] - sig["c_price"]) == s * (sig["b_price"] - sig["a_price"])).all()
    assert (s * (sig["ref_price"] - sig["stop"]) > 0).all()
    done = sig[sig["outcome"].isin(["target_100", "target_123_6", "stop", "expiry"])]
    assert (done["outcome_at"] > done["entry_at"]).all()
    assert (done["mfe"] >= 0).all()
    assert (done["mae"] >= 0).all()
    stopped = done[done["outcome"] == "stop"]
    assert (stopped["pnl_pts"] < 0).all()
    hit = done[done["outcome"].isin(["target_100", "target_123_6"])]
    assert np.allclose(hit["pnl_pts"], s[hit.index] * (hit["target_100"] - hit["entry"]))
    assert isinstance(sig["confirmed_at"].iloc[0], pd.Timestamp)
