"""The CLI's tables show Central Time, labelled, on both sides of the spring DST change."""

from __future__ import annotations

import pandas as pd
import pytest

from mesdesk.calendar import CT
from mesdesk.cli.backtest import print_report
from mesdesk.cli.scan import _cell, _signals_table
from mesdesk.services.backtest import BacktestReport
from mesdesk.services.display import screen_time


def test_backtest_header_is_ct_across_the_change(backtest: BacktestReport, capsys: pytest.CaptureFixture[str]) -> None:
    print_report(backtest)
    out = capsys.readouterr().out
    # first bar 2025-03-02 23:00 UTC (CST, UTC-6), last 2025-03-14 20:59 UTC (CDT, UTC-5)
    assert "2025-03-02 17:00 CT to 2025-03-14 15:59 CT" in out
    assert "UTC" not in out


def test_scan_cells_are_ct_on_the_dst_change_days() -> None:
    assert _cell(pd.Timestamp("2025-03-10T13:30:00Z")) == "2025-03-10 08:30"
    assert _cell(pd.Timestamp("2025-11-03T14:30:00Z")) == "2025-11-03 08:30"
    assert _cell(pd.NaT) == "-"
    frame = pd.DataFrame({"c_time": [pd.Timestamp("2025-11-02T23:00:00Z")]})
    table = _signals_table("t", frame.assign(**dict.fromkeys(_columns(), 0.0)))
    c_col = next(c for c in table.columns if c.header == "C (CT)")
    assert list(c_col.cells) == ["2025-11-02 17:00"]  # the Sunday open on the fall-back day, CST


def _columns() -> list[str]:
    from mesdesk.cli.scan import _SHOWN

    return [c for c, _ in _SHOWN if c != "c_time"]


def test_screen_time_labels_the_zone() -> None:
    assert screen_time(pd.Timestamp("2025-11-02T23:00:00Z"), CT) == "2025-11-02 17:00 CT"
    assert screen_time(None, CT) == "-"
