"""`mesdesk demo` ends with the backtest of the synthetic days (the same pipeline as `mesdesk backtest`)."""

from __future__ import annotations

from mesdesk.config import load_settings
from mesdesk.services.backtest import backtest
from mesdesk.services.demo import run_demo
from mesdesk.services.demo_backtest import backtest_section
from mesdesk.services.root import Root
from mesdesk.timeframes import Timeframe


def test_demo_backtest_section_reports_the_backtest_of_the_demo_bars() -> None:
    result = run_demo(days=4, seed=3)
    titles = [s.title for s in result.sections]
    assert titles[-2:] == ["Backtest (scalper on the synthetic days)", "Backtest by setup"]
    figures = dict(result.sections[-2].rows)
    root = Root(load_settings())
    config = root.engine_config()
    rules = root.backtest_decider("rules", config)
    report = backtest(result.context.bars_1m, root.setups(), rules, config, timeframe=Timeframe.M1)
    assert figures["candidates"] == str(report.candidates)
    assert figures["trades (wins / losses / scratches)"].startswith(f"{report.stats.trades} (")
    assert backtest_section(result.context)[0].rows == result.sections[-2].rows  # deterministic
