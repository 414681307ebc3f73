"""The demo's scanner section: measured-move (ABC) signals on the synthetic days, per timeframe."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesdesk.services.demo import DemoContext, Section


def _f(value: float, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def scan_section(ctx: DemoContext) -> list[Section]:
    """Run `mesdesk scan`'s pipeline on the demo's 1-minute bars (seed 003 rules, synthetic VIX)."""
    from mesdesk.services.demo import Section
    from mesdesk.services.scan import ScanRequest, run_scan

    result = run_scan(ScanRequest(days_back=ctx.days, seed=ctx.seed), bars=ctx.bars_1m)
    rows = tuple(
        (
            str(r["timeframe"]),
            str(int(r["signals"])),
            str(int(r["taken"])),
            str(int(r["resolved"])),
            _f(100 * float(r["target_100_rate"]), 0),
            _f(100 * float(r["stop_rate"]), 0),
            _f(float(r["expectancy_pts"])),
        )
        for _, r in result.evaluation.iterrows()
    )
    note = (
        f"Halsey ABC, retrace 50-61.8%, R:R >= 2, swing order 5; VIX: {result.vix_from}; "
        "`mesdesk scan --csv signals.csv` writes every signal"
    )
    columns = ("timeframe", "signals", "VIX-passed", "resolved", "target 100 %", "stop %", "expectancy pts")
    return [Section("Measured-move scan (seed 003)", columns, rows, note)]
