"""AutoGluon TimeSeries trainer for MES closes (seed 003's ``mes_autogluon_timeseries.py``).

Data. Bars of the source are resampled to the training timeframe (5m, 15m or 1h: bins that tile UTC
time evenly; 4h and 1d bins follow CT sessions and shift with DST, so they are refused) and put on a
**regular wall-clock grid** at that timeframe. Closed periods (the 16:00-17:00 CT break, weekends,
holidays) become grid points whose close is the last traded close, forward-filled; nothing is ever
back-filled and no grid point is added before the first bar or after the last one. A forecast at step
`n` is therefore the close known at `t + n x span`, the same as-of rule the quant forecast's targets
use, and a 7d horizon on 1h bars is 168 steps.

Horizons. A horizon `h` is read at step `h // span` (as-of). A horizon shorter than one step (5m or
15m on 1h bars) cannot be read from the grid: its return is the first step's return scaled by
`h / span` (constant drift within the step) and is flagged ``interpolated`` in the summary.
The prediction length is the largest step count needed, or `--prediction-length` if larger.

Quality -> AutoGluon presets:

==========  ================  ==============================================================
quality     presets           models
==========  ================  ==============================================================
extreme     best_quality      its default set, several validation windows, refits
high        high_quality      its default set, one validation window
medium      medium_quality    its "light" set
fast        medium_quality    only Naive, SeasonalNaive, RecursiveTabular, DirectTabular
                              (a minute-scale run, for tests and smoke checks)
==========  ================  ==============================================================

Offline by default: the pretrained families (Chronos, Chronos2, Toto, Toto2), which download weights
from a model hub at fit time, are excluded unless ``allow_pretrained``.

Outputs (paths settable): the forecast rows CSV (one row per step), the run summary JSON, and the
predictor folder ``<models_dir>/autogluon_mes_<timeframe>/`` with ``mesdesk_model.json`` beside the
predictor describing how it was trained (used by ``/mes/forecast?model=autogluon``).
AutoGluon is imported lazily; without it a `ConfigError` says how to install the extra.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.data.resample import resample
from mesdesk.errors import ConfigError, DataError
from mesdesk.forecast.horizons import DEFAULT_HORIZONS, Horizon, parse_horizons
from mesdesk.timeframes import Timeframe

INSTALL_HINT = "pip install 'mesdesk[autogluon]'"
QUALITY_PRESETS = {
    "extreme": "best_quality",
    "high": "high_quality",
    "medium": "medium_quality",
    "fast": "medium_quality",
}
FAST_MODELS: dict[str, dict[str, Any]] = {"Naive": {}, "SeasonalNaive": {}, "RecursiveTabular": {}, "DirectTabular": {}}
PRETRAINED_MODELS = ("Chronos", "Chronos2", "Toto", "Toto2")
TRAINABLE_TIMEFRAMES = (Timeframe.M5, Timeframe.M15, Timeframe.H1)
META_FILE = "mesdesk_model.json"
ITEM_ID = "MES"
_PANDAS_FREQ = {Timeframe.M5: "5min", Timeframe.M15: "15min", Timeframe.H1: "1h"}


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """One training run (see the module docstring); times in seconds, paths relative to the cwd."""

    timeframe: Timeframe = Timeframe.H1
    horizons: tuple[str, ...] = DEFAULT_HORIZONS
    quality: str = "extreme"
    time_limit_s: int = 3600
    prediction_length: int = 1
    output_dir: Path = Path("output")
    models_dir: Path = Path("models")
    allow_pretrained: bool = False
    random_seed: int = 123

    def __post_init__(self) -> None:
        if self.timeframe not in TRAINABLE_TIMEFRAMES:
            choices = ", ".join(t.value for t in TRAINABLE_TIMEFRAMES)
            raise ConfigError(
                f"--timeframe {self.timeframe.value}: choose one of {choices} "
                "(4h and 1d bins follow CT sessions and are not a regular grid)"
            )
        if self.quality not in QUALITY_PRESETS:
            raise ConfigError(f"--quality {self.quality!r}: choose one of {', '.join(QUALITY_PRESETS)}")
        if self.time_limit_s < 5:
            raise ConfigError(f"--time-limit {self.time_limit_s}: give at least 5 seconds")
        if self.prediction_length < 1:
            raise ConfigError(f"--prediction-length {self.prediction_length}: must be >= 1")
        parse_horizons(self.horizons)

    @property
    def model_dir(self) -> Path:
        return self.models_dir / f"autogluon_mes_{self.timeframe.value}"

    @property
    def forecast_csv(self) -> Path:
        return self.output_dir / "mes_autogluon_forecast.csv"

    @property
    def summary_json(self) -> Path:
        return self.output_dir / "mes_autogluon_summary.json"


def require_autogluon() -> Any:
    """The `autogluon.timeseries` module, or a ConfigError with the install line."""
    try:
        import autogluon.timeseries as agts
    except ImportError as exc:
        raise ConfigError(f"AutoGluon TimeSeries is not installed ({exc}); install the extra: {INSTALL_HINT}") from None
    return agts


@dataclass(frozen=True, slots=True)
class HorizonStep:
    label: str
    steps: int  # grid steps read (0 = interpolated from step 1)
    fraction: float  # share of step 1 used when interpolated, else 1.0

    @property
    def interpolated(self) -> bool:
        return self.steps == 0


def horizon_steps(horizons: tuple[Horizon, ...], timeframe: Timeframe) -> list[HorizonStep]:
    """Which grid step answers each horizon (as-of), or the interpolation fraction below one step."""
    span_s = timeframe.span.total_seconds()
    out = []
    for h in horizons:
        n = int(h.duration.total_seconds() // span_s)
        out.append(HorizonStep(h.label, n, 1.0 if n else h.duration.total_seconds() / span_s))
    return out


def prediction_length_for(horizons: tuple[Horizon, ...], timeframe: Timeframe, requested: int = 1) -> int:
    """Steps needed to reach the longest horizon (1h with 7d -> 168), at least `requested`."""
    return max([requested, 1, *(s.steps for s in horizon_steps(horizons, timeframe))])


@dataclass(frozen=True)
class Grid:
    """Closes on a regular UTC grid (index: bin open), with the forward-filled points marked."""

    close: pd.Series
    filled: np.ndarray
    timeframe: Timeframe


def regular_grid(bars: pd.DataFrame, timeframe: Timeframe) -> Grid:
    """Resample `bars` to `timeframe` (complete bins) and forward-fill closes over closed periods."""
    if timeframe not in TRAINABLE_TIMEFRAMES:
        raise ConfigError(f"timeframe {timeframe.value}: not a regular grid (use 5m, 15m or 1h)")
    tf_bars = resample(bars, timeframe)
    if len(tf_bars) < 3:
        raise DataError(f"only {len(tf_bars)} complete {timeframe.value} bars: too little to train on")
    index = pd.date_range(tf_bars.index[0], tf_bars.index[-1], freq=_PANDAS_FREQ[timeframe], name="ts")
    close = tf_bars["close"].reindex(index)
    filled = close.isna().to_numpy()
    return Grid(close=close.ffill(), filled=filled, timeframe=timeframe)


def _ts_frame(grid: Grid) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ITEM_ID,
            "timestamp": pd.DatetimeIndex(grid.close.index).tz_convert("UTC").tz_localize(None),
            "target": grid.close.to_numpy(dtype=np.float64),
        }
    )


def _fit_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "presets": QUALITY_PRESETS[cfg.quality],
        "time_limit": cfg.time_limit_s,
        "random_seed": cfg.random_seed,
    }
    if cfg.quality == "fast":
        kwargs["hyperparameters"] = FAST_MODELS
    if not cfg.allow_pretrained:
        kwargs["excluded_model_types"] = list(PRETRAINED_MODELS)
    return kwargs


def _horizon_returns(mean: np.ndarray, last_close: float, steps: list[HorizonStep]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in steps:
        step = s.steps if s.steps else 1
        ret = 100.0 * (float(mean[step - 1]) / last_close - 1.0) * s.fraction
        out[s.label] = {"steps": s.steps, "interpolated": s.interpolated, "return_pct": ret}
    return out


def _prepare_model_dir(path: Path) -> None:
    if path.exists():
        if not (path / "predictor.pkl").exists() and any(path.iterdir()):
            raise ConfigError(f"{path} exists and is not an AutoGluon model folder: choose another --models-dir")
        shutil.rmtree(path)  # a previous model of ours: retrain from scratch
    path.parent.mkdir(parents=True, exist_ok=True)


def train(bars: pd.DataFrame, cfg: TrainConfig, *, bars_from: str = "given bars") -> dict[str, Any]:
    """Train, forecast from the last bar, write the CSV, the summary and the model folder; return the summary."""
    agts = require_autogluon()
    horizons = parse_horizons(cfg.horizons)
    steps = horizon_steps(horizons, cfg.timeframe)
    length = prediction_length_for(horizons, cfg.timeframe, cfg.prediction_length)
    grid = regular_grid(bars, cfg.timeframe)
    if len(grid.close) <= 3 * length:
        raise DataError(
            f"{len(grid.close)} {cfg.timeframe.value} grid points are too few for a {length}-step forecast "
            f"(need more than {3 * length}): use more --days-back or shorter horizons"
        )
    data = agts.TimeSeriesDataFrame.from_data_frame(_ts_frame(grid), id_column="item_id", timestamp_column="timestamp")
    _prepare_model_dir(cfg.model_dir)
    started = time.perf_counter()
    predictor = agts.TimeSeriesPredictor(
        prediction_length=length,
        target="target",
        freq=_PANDAS_FREQ[cfg.timeframe],
        eval_metric="MASE",
        path=str(cfg.model_dir),
        verbosity=0,
    )
    predictor.fit(data, **_fit_kwargs(cfg))
    fit_s = time.perf_counter() - started
    forecast = predictor.predict(data).loc[ITEM_ID]
    leaderboard = predictor.leaderboard(silent=True)
    last_close = float(grid.close.iloc[-1])
    mean = forecast["mean"].to_numpy(dtype=np.float64)
    rows = _forecast_rows(forecast, last_close, steps)
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    rows.to_csv(cfg.forecast_csv, index=False, float_format="%.6f")
    summary = {
        "timeframe": cfg.timeframe.value,
        "quality": cfg.quality,
        "presets": QUALITY_PRESETS[cfg.quality],
        "time_limit_s": cfg.time_limit_s,
        "fit_s": round(fit_s, 1),
        "prediction_length": length,
        "horizons": _horizon_returns(mean, last_close, steps),
        "excluded_model_types": [] if cfg.allow_pretrained else list(PRETRAINED_MODELS),
        "best_model": predictor.model_best,
        "leaderboard": [
            {
                "model": str(r["model"]),
                "score_val": _num(r.get("score_val")),
                "fit_time_s": _num(r.get("fit_time_marginal")),
            }
            for _, r in leaderboard.iterrows()
        ],
        "eval_metric": "MASE (higher score_val is better: AutoGluon reports -MASE)",
        "data": {
            "bars_from": bars_from,
            "first_bar": grid.close.index[0].isoformat(),
            "last_bar": grid.close.index[-1].isoformat(),
            "grid_points": len(grid.close),
            "forward_filled_points": int(grid.filled.sum()),
            "gap_rule": "regular UTC grid, closed periods forward-filled, never back-filled",
        },
        "last_close": last_close,
        "autogluon_version": str(getattr(agts, "__version__", "?")),
        "outputs": {
            "forecast_csv": str(cfg.forecast_csv),
            "summary_json": str(cfg.summary_json),
            "model_dir": str(cfg.model_dir),
        },
    }
    cfg.summary_json.write_text(json.dumps(summary, indent=2))
    meta = {
        "timeframe": cfg.timeframe.value,
        "prediction_length": length,
        "best_model": predictor.model_best,
        "config": _config_dict(cfg),
    }
    (cfg.model_dir / META_FILE).write_text(json.dumps(meta, indent=2))
    return summary


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _config_dict(cfg: TrainConfig) -> dict[str, Any]:
    raw = asdict(cfg)
    return {k: (str(v) if isinstance(v, Path | Timeframe) else v) for k, v in raw.items()}


def _forecast_rows(forecast: pd.DataFrame, last_close: float, steps: list[HorizonStep]) -> pd.DataFrame:
    labels = {s.steps: s.label for s in steps if s.steps}
    ts = pd.DatetimeIndex(forecast.index).tz_localize("UTC")
    out = pd.DataFrame(
        {
            "step": np.arange(1, len(forecast) + 1),
            "ts_utc": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "horizon": [labels.get(i, "") for i in range(1, len(forecast) + 1)],
            "mean": forecast["mean"].to_numpy(),
        }
    )
    for q in ("0.1", "0.5", "0.9"):
        if q in forecast.columns:
            out[f"q{int(float(q) * 100):02d}"] = forecast[q].to_numpy()
    out["return_pct"] = 100.0 * (out["mean"] / last_close - 1.0)
    return out


def find_model_dir(models_dir: Path) -> Path:
    """The trained model folder under `models_dir` (autogluon_mes_1h preferred when there are several)."""
    candidates = sorted(p for p in models_dir.glob("autogluon_mes_*") if (p / META_FILE).is_file())
    if not candidates:
        raise ConfigError(
            f"no trained AutoGluon model under {models_dir}/ (expected autogluon_mes_<timeframe>/): "
            "run `mesdesk train-autogluon` first"
        )
    preferred = [p for p in candidates if p.name == "autogluon_mes_1h"]
    return (preferred or candidates)[0]


@dataclass(frozen=True, slots=True)
class TrainedForecast:
    returns_pct: dict[str, float]
    model_dir: Path
    best_model: str


def forecast_from_trained(models_dir: Path, bars: pd.DataFrame, labels: list[str]) -> TrainedForecast:
    """Percent returns per horizon from the trained model, predicting from the latest `bars`."""
    agts = require_autogluon()
    path = find_model_dir(models_dir)
    meta = json.loads((path / META_FILE).read_text())
    timeframe = Timeframe.parse(meta["timeframe"])
    predictor = agts.TimeSeriesPredictor.load(str(path))
    grid = regular_grid(bars, timeframe)
    data = agts.TimeSeriesDataFrame.from_data_frame(_ts_frame(grid), id_column="item_id", timestamp_column="timestamp")
    mean = predictor.predict(data).loc[ITEM_ID]["mean"].to_numpy(dtype=np.float64)
    wanted = tuple(
        h for h in parse_horizons(labels) if h.duration.total_seconds() <= timeframe.span.total_seconds() * len(mean)
    )
    if not wanted:
        raise ConfigError(f"the trained model ({path.name}) forecasts {len(mean)} steps: none of {labels} fits")
    steps = horizon_steps(wanted, timeframe)
    returns = _horizon_returns(mean, float(grid.close.iloc[-1]), steps)
    return TrainedForecast(
        returns_pct={label: float(v["return_pct"]) for label, v in returns.items()},
        model_dir=path,
        best_model=str(meta.get("best_model", "?")),
    )
