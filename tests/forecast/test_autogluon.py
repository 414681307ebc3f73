"""The AutoGluon trainer: grid, steps and presets always; a real short training when the extra is installed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.config import Settings
from mesdesk.errors import ConfigError
from mesdesk.forecast.autogluon_trainer import (
    PRETRAINED_MODELS,
    TrainConfig,
    _fit_kwargs,
    horizon_steps,
    prediction_length_for,
    regular_grid,
    require_autogluon,
)
from mesdesk.forecast.horizons import parse_horizons
from mesdesk.timeframes import Timeframe

from .conftest import session_bars

HAS_AUTOGLUON = importlib.util.find_spec("autogluon") is not None and importlib.util.find_spec("autogluon.timeseries")


def test_prediction_length_covers_the_longest_horizon() -> None:
    hs = parse_horizons("5m,15m,60m,4h,24h,7d")
    assert prediction_length_for(hs, Timeframe.H1) == 168
    assert prediction_length_for(hs, Timeframe.M15) == 672
    assert prediction_length_for(parse_horizons("60m"), Timeframe.H1, requested=12) == 12


def test_horizons_shorter_than_a_step_are_interpolated() -> None:
    steps = {s.label: s for s in horizon_steps(parse_horizons("5m,15m,90m,4h"), Timeframe.H1)}
    assert steps["5m"].interpolated
    assert steps["5m"].fraction == pytest.approx(5 / 60)
    assert steps["15m"].fraction == pytest.approx(0.25)
    assert steps["90m"].steps == 1  # as-of: the close known at t + 90m is the one of step 1
    assert steps["4h"].steps == 4


def test_grid_forward_fills_closed_periods_and_never_back_fills() -> None:
    bars = session_bars(3, freq="1h")
    grid = regular_grid(bars, Timeframe.H1)
    index = pd.DatetimeIndex(grid.close.index)
    assert (np.diff(index.asi8) == 3600 * 10**9).all()  # regular
    assert grid.close.notna().all()
    assert index[0] == bars.index[0]  # nothing invented before the first bar
    # the 16:00-17:00 CT maintenance break is one filled point carrying the 15:00 bar's close
    brk = pd.Timestamp("2025-03-03 16:00", tz="America/Chicago").tz_convert("UTC")
    pos = index.get_loc(brk)
    assert grid.filled[pos]
    assert grid.close.iloc[pos] == grid.close.iloc[pos - 1]
    assert int(grid.filled.sum()) == 2  # one break between each pair of the 3 sessions


def test_quality_maps_to_presets_and_pretrained_models_are_excluded_by_default(tmp_path: Path) -> None:
    extreme = _fit_kwargs(TrainConfig(quality="extreme", models_dir=tmp_path))
    assert extreme["presets"] == "best_quality"
    assert set(extreme["excluded_model_types"]) == set(PRETRAINED_MODELS)
    fast = _fit_kwargs(TrainConfig(quality="fast", allow_pretrained=True))
    assert fast["presets"] == "medium_quality"
    assert "excluded_model_types" not in fast
    assert set(fast["hyperparameters"]) == {"Naive", "SeasonalNaive", "RecursiveTabular", "DirectTabular"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quality": "ultra"}, "--quality"),
        ({"timeframe": Timeframe.H4}, "--timeframe"),
        ({"time_limit_s": 1}, "--time-limit"),
    ],
)
def test_bad_training_flags_are_named(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "autogluon.timeseries", None)
    with pytest.raises(ConfigError, match=r"pip install 'mesdesk\[autogluon\]'"):
        require_autogluon()
    with pytest.raises(SystemExit) as exc:
        main(["train-autogluon", "--quality", "fast", "--time-limit", "10"])
    assert exc.value.code == 2
    assert "pip install 'mesdesk[autogluon]'" in capsys.readouterr().err


@pytest.mark.autogluon
@pytest.mark.slow
@pytest.mark.skipif(not HAS_AUTOGLUON, reason="needs the autogluon extra: pip install 'mesdesk[autogluon]'")
def test_trains_for_real_writes_outputs_and_serves_the_endpoint(tmp_path: Path, settings: Settings) -> None:
    from mesdesk.forecast.autogluon_trainer import train
    from mesdesk.services.forecast import ForecastCache, ForecastRequest, forecast_payload

    bars = session_bars(30, freq="1h", seed=11)
    cfg = TrainConfig(
        timeframe=Timeframe.H1,
        horizons=("15m", "60m", "4h", "24h"),
        quality="fast",
        time_limit_s=20,
        output_dir=tmp_path / "output",
        models_dir=tmp_path / "models",
    )
    summary = train(bars, cfg)

    assert summary["prediction_length"] == 24
    assert summary["presets"] == "medium_quality"
    assert summary["best_model"]
    assert summary["horizons"]["15m"]["interpolated"] is True
    assert summary["horizons"]["24h"]["steps"] == 24
    rows = pd.read_csv(tmp_path / "output" / "mes_autogluon_forecast.csv")
    assert len(rows) == 24
    assert rows.loc[rows["horizon"] == "4h", "step"].tolist() == [4]
    assert np.isfinite(rows["mean"]).all()
    on_disk = json.loads((tmp_path / "output" / "mes_autogluon_summary.json").read_text())
    assert on_disk["best_model"] == summary["best_model"]
    assert (tmp_path / "models" / "autogluon_mes_1h" / "predictor.pkl").is_file()
    assert not any("Chronos" in r["model"] or "Toto" in r["model"] for r in summary["leaderboard"])

    served = Settings(MESDESK_AUTOGLUON_MODELS_DIR=str(tmp_path / "models"), FRED_API_KEY=None)  # type: ignore[call-arg]
    payload = forecast_payload(
        "autogluon",
        request=ForecastRequest(horizons=("60m", "4h", "24h")),
        settings=served,
        bars=bars,
        cache=ForecastCache(0),
    )
    assert payload["llm_metadata"]["provider"] == "autogluon"
    assert payload["llm_metadata"]["model"] == f"autogluon_mes_1h/{summary['best_model']}"
    assert set(payload["forecast_numeric_pct"]) <= {"60m", "4h", "24h"}
    assert payload["forecast_numeric_pct"]["60m"] == pytest.approx(summary["horizons"]["60m"]["return_pct"])
