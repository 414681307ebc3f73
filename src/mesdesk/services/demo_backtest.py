"""The demo's backtest section: the scalper on the synthetic days, summarised in two tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mesdesk.config import load_settings
from mesdesk.timeframes import Timeframe

if TYPE_CHECKING:
    from mesdesk.services.demo import DemoContext, Section


def _f(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def backtest_section(ctx: DemoContext) -> list[Section]:
    """Run `mesdesk backtest`'s pipeline on the demo's 1-minute bars (rule decider, seed bracket)."""
    from mesdesk.services.backtest import backtest
    from mesdesk.services.demo import Section
    from mesdesk.services.root import Root

    root = Root(load_settings())
    config = root.engine_config()
    report = backtest(
        ctx.bars_1m, root.setups(), root.backtest_decider("rules", config), config, timeframe=Timeframe.M1
    )
    s, o = report.stats, report.optimistic
    rows = (
        ("candidates", str(report.candidates)),
        ("trades (wins / losses / scratches)", f"{s.trades} ({s.wins} / {s.losses} / {s.scratches})"),
        ("win rate %", _f(s.win_rate, 1)),
        ("average win / loss, pts", f"{_f(s.avg_win_pts)} / {_f(s.avg_loss_pts)}"),
        ("expectancy, pts per trade", _f(s.expectancy_pts, 3)),
        ("net after costs", f"{_f(s.net_pts)} pts = ${_f(s.net_usd)}"),
        ("profit factor", _f(s.profit_factor)),
        ("max drawdown, pts", _f(s.max_drawdown_pts)),
        ("ambiguous trades; net range, pts", f"{s.ambiguous}; {_f(s.net_pts)} to {_f(o.net_pts)}"),
    )
    note = (
        "rule decider (prefilter >= 75), TP 1.25 / SL 0.75 / BE 0.50 / trail after 1.00, 1 tick slippage, "
        "$0.62 per side; `mesdesk backtest` writes the trades, the journal and an HTML report"
    )
    table = report.by_setup
    by_setup = tuple(
        (str(setup), str(n), _f(float(rate), 1), _f(float(net)))
        for setup, n, rate, net in zip(
            table["setup"], table["trades"], table["win_rate"], table["net_pts"], strict=True
        )
    )
    return [
        Section("Backtest (scalper on the synthetic days)", ("figure", "value"), rows, note),
        Section("Backtest by setup", ("setup", "trades", "win rate %", "net pts"), by_setup),
    ]
