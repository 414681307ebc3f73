"""A user setup runs through the same engine, journal, limits, deciders and learning as the built-ins:
`mesdesk backtest --setup`, `mesdesk learn evaluate --setup` and the paper runner (`mesdesk serve --setup`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.config import load_settings
from mesdesk.errors import ConfigError
from mesdesk.services.learning import LearnRequest, evaluate
from mesdesk.services.paper import RunnerOptions, build_runner, open_store
from mesdesk.services.root import Root

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "setups" / "opening_range_breakout.py"
SPEC = f"{EXAMPLE}:opening_range_breakout"


def test_backtest_cli_trades_a_user_setup_beside_one_builtin(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    main(["backtest", "--days", "6", "--setup", SPEC, "--setup", "VWAP_rejection", "--out", str(out)])
    journal = pd.read_csv(out / "journal.csv")
    trades = pd.read_csv(out / "trades.csv")
    assert set(journal["setup"]) == {"opening_range_breakout", "VWAP_rejection"}
    assert (journal["setup"] == "opening_range_breakout").sum() > 0
    assert "opening_range_breakout" in set(trades["setup"])
    # the daily limits hold for the user setup as for the built-ins
    per_day = trades.groupby("trading_day").size()
    assert per_day.max() <= 6


def test_setup_params_reach_the_user_function(tmp_path: Path) -> None:
    from mesdesk.data.synthetic import generate_days
    from mesdesk.timeframes import Timeframe

    root = Root(load_settings())
    key = "setup.opening_range_breakout.range_minutes"
    assert root.setups([SPEC]).parameters()[key] == 30  # the function's own default
    wider = root.setups([SPEC], ["opening_range_breakout.range_minutes=60"])
    assert wider.parameters()[key] == 60
    bars = generate_days(5)
    default_ts = root.setups([SPEC]).detect(bars, Timeframe.M1)["ts"]
    wider_ts = wider.detect(bars, Timeframe.M1)["ts"]
    # a 60-minute range completes later: no breakout can be known before 09:30 CT
    assert len(wider_ts) > 0
    assert wider_ts.min() > default_ts.min()
    with pytest.raises(ConfigError, match="no_such_param"):
        root.setups([SPEC], ["opening_range_breakout.no_such_param=3"])


def test_learn_evaluate_runs_a_user_setup() -> None:
    report = evaluate(LearnRequest(days=12, train_days=4, test_days=4, setups=(SPEC,)))
    assert report.folds >= 1
    assert report.off.trades > 0


def test_the_paper_runner_trades_a_user_setup(tmp_path: Path) -> None:
    settings = load_settings(MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/s.sqlite", MESDESK_LEARNING="false")
    store = open_store(settings)
    options = RunnerOptions(
        replay_day=date(2025, 9, 16), replay_from_ct=time(8, 25), speed=0.0, setups=(SPEC,), lookback_days=3
    )
    service = build_runner(settings, options, store)
    for _ in range(2000):
        if service.driver.idle_reason(service.runner.cursor, datetime.now(UTC)) is not None:
            break
        service.run_once()
    rows = store.journal(options.runner_name, date(2025, 9, 16))
    assert rows
    assert {r.setup for r in rows} == {"opening_range_breakout"}
