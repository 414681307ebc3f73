"""`optimize` on the real ES bars (skips cleanly when they are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mesdesk.services.optimize import OptimizeRequest, run_optimize_job


def test_real_es_bars_one_minute_paths_under_five_minute_decisions(shared_data: Path) -> None:
    req = OptimizeRequest(
        source="file",
        file=shared_data / "ES_1m_2025-09-15_2025-10-10.csv",
        timeframe="5m",
        sub_bars="1m",
        params=("bracket.tp_pts=1,2", "prefilter.threshold=65,75"),
        min_trades=1,
        walk_forward="8:4",
        groups=4,
    )
    report = run_optimize_job(req)
    r = report.result
    assert r.n_configs == 4
    assert report.summary["data"]["trading_days"] == r.matrix.n_days >= 18
    assert r.oos_trades["pnl_pts"].sum() == pytest.approx(float(np.sum(r.walk_forward.oos_daily_net)))
    assert report.summary["deflated_sharpe"]["n_trials"] == 4
