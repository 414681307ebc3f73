"""One synthetic backtest across the spring DST change (2025-03-09), written once for the report tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mesdesk.config import load_settings
from mesdesk.services.backtest import BacktestReport, BacktestRequest, run_backtest_job


@pytest.fixture(name="backtest", scope="package")
def fixture_backtest(tmp_path_factory: pytest.TempPathFactory) -> BacktestReport:
    out = tmp_path_factory.mktemp("report")
    settings = load_settings(MESDESK_DATA_DIR=str(out / "data"), OPENAI_API_KEY="", ANTHROPIC_API_KEY="")
    req = BacktestRequest(source="synthetic", start=date(2025, 3, 3), end=date(2025, 3, 14), out=out / "bt")
    return run_backtest_job(req, settings)


@pytest.fixture(name="report_file")
def fixture_report_file(backtest: BacktestReport) -> Path:
    assert backtest.out is not None
    return backtest.out / "report.html"
