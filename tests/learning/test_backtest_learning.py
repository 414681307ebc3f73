from __future__ import annotations

import pandas as pd

from mesdesk.config import load_settings
from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import EngineConfig, run_backtest
from mesdesk.learn.counterfactual import follow
from mesdesk.learn.memory import LearningConfig
from mesdesk.learn.negatives import NegativeConfig
from mesdesk.pathbars import PathBars
from mesdesk.services.backtest import BacktestRequest, learning_wrapper, run_backtest_job
from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates


def test_every_veto_rests_on_an_outcome_resolved_before_the_decision() -> None:
    bars = generate_days(20, SyntheticConfig(seed=3))
    cands = detect_candidates(bars, ScalperSetupsConfig())
    config = EngineConfig()
    eager = LearningConfig(negatives=NegativeConfig(radius=3.0, min_neighbors=3))  # acts on little evidence
    wrap = learning_wrapper(cands, bars, config, eager)
    journal = run_backtest(bars, cands, wrap(RuleDecider()), config).journal
    vetoed = journal[journal["decision_source"] == "learning"]
    assert len(vetoed) > 0, "the eager config must veto something in 20 days"
    assert vetoed["entry_price"].isna().all()
    assert vetoed["reason"].str.startswith("learning veto").all()
    path = PathBars.from_frame(bars, pd.Timedelta(minutes=1))
    resolved = {o.key: o.resolved_at for o in follow(cands, path, config)}
    for _, row in vetoed.iterrows():
        if "hard negative " not in row["reason"]:
            continue
        key = row["reason"].split("hard negative ", 1)[1].split(" (", 1)[0]
        assert resolved[key] <= row["decision_ts"].to_pydatetime()


def test_backtest_job_with_learning_runs_end_to_end() -> None:
    report = run_backtest_job(BacktestRequest(days=5, learning=True, write=False), load_settings())
    assert report.candidates > 0
    assert set(report.journal["decision_source"]) <= {"", "rules", "learning"}
