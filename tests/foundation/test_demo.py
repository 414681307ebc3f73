"""`mesdesk demo`: the synthetic market summarised, through the service and the CLI."""

from __future__ import annotations

import pytest

from mesdesk.cli import main
from mesdesk.services.demo import DEMO_SECTIONS, DemoContext, Section, run_demo
from mesdesk.timeframes import Timeframe


def test_run_demo_returns_sections_for_each_day_and_timeframe() -> None:
    result = run_demo(days=3, seed=1)
    titles = [s.title for s in result.sections]
    assert titles[:3] == ["Sessions", "Bars per timeframe", "Indicators at the last bar"]
    sessions = result.sections[0]
    assert [r[0] for r in sessions.rows] == ["2025-03-03", "2025-03-04", "2025-03-05"]
    assert all(r[3] == "1380" for r in sessions.rows)
    by_tf = {r[0]: int(r[1]) for r in result.sections[1].rows}
    assert by_tf == {"1m": 3 * 1380, "5m": 3 * 276, "15m": 3 * 92, "1h": 3 * 23, "4h": 3 * 6, "1d": 3}
    indicators = dict(result.sections[2].rows)
    assert float(indicators["close"]) == result.context.bars_1m["close"].iloc[-1]
    assert result.context.bars[Timeframe.D1].shape[0] == 3


def test_run_demo_is_extensible_with_builders() -> None:
    def extra(ctx: DemoContext) -> list[Section]:
        return [Section("Extra", ("bars",), ((str(len(ctx.bars_1m)),),))]

    result = run_demo(days=1, seed=2, builders=(*DEMO_SECTIONS, extra))
    assert result.sections[-1].rows == (("1380",),)


def test_cli_demo_prints_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--days", "2", "--seed", "3"])
    out = capsys.readouterr().out
    assert "Sessions" in out
    assert "Bars per timeframe" in out
    assert "atr_5m" in out
    assert "MESH5" in out


def test_cli_demo_refuses_zero_days(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--days", "0"])
    assert exc.value.code == 2
    assert "--days" in capsys.readouterr().err
