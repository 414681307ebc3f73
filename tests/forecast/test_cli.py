"""`mesdesk forecast`: --json prints exactly the endpoint's JSON; the table and --evaluate read well."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesdesk.cli import main
from mesdesk.config import load_settings
from mesdesk.services.forecast import ForecastRequest, forecast_payload

from .conftest import session_bars


@pytest.fixture(name="bars_file")
def fixture_bars_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESDESK_FORECAST_CACHE_S", "0")
    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    path = tmp_path / "bars.csv"
    bars = session_bars(12, seed=9)
    bars.rename_axis("ts_utc").reset_index().to_csv(path, index=False)
    return path


def test_json_is_exactly_the_endpoint_payload(bars_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["forecast", "--json", "--source", "file", "--file", str(bars_file), "--horizons", "5m,60m,4h"])
    printed = json.loads(capsys.readouterr().out)
    settings = load_settings()
    request = ForecastRequest(
        source="file", file=bars_file, days_back=settings.forecast_days_back, horizons=("5m", "60m", "4h")
    )
    assert printed == forecast_payload("quant", request=request, settings=settings)


def test_table_shows_forecasts_and_diagnostics(bars_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["forecast", "--source", "file", "--file", str(bars_file), "--horizons", "15m,60m"])
    out = capsys.readouterr().out
    assert "MES quant forecast" in out
    assert "sharpe (daily" in out
    assert "nn_mse" in out
    assert "vix" in out


def test_evaluate_prints_both_models_against_the_zero_forecast(
    bars_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["forecast", "--evaluate", "--source", "file", "--file", str(bars_file), "--horizons", "15m,60m,7d"])
    out = capsys.readouterr().out
    assert "Purged walk-forward" in out
    assert out.count("ridge") == 2
    assert out.count("mlp") == 2
    assert "horizon 7d not evaluated" in out


def test_bad_model_is_one_line_and_exit_code_2(bars_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["forecast", "--model", "gemini", "--source", "file", "--file", str(bars_file)])
    assert exc.value.code == 2
    assert "model='gemini'" in capsys.readouterr().err
