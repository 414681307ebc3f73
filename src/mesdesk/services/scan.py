"""The measured-move scan as an application service: load bars and VIX, scan, export, summarise.

The CLI (`mesdesk scan`) and the API (``GET /mes/signals?timeframe=``) call only this module.

- `run_scan(request)`: bars from the requested source, the last ``days_back`` days, every timeframe;
  returns a `ScanResult` (signals frame, evaluation, where the bars and the VIX came from).
- `signals_payload(timeframe, ...)`: JSON-ready dicts, one per signal of one timeframe, with the CSV
  fields (times as ISO 8601 UTC strings, NaN as null), newest last.
- `write_signals_csv(signals, path)`: the seed's CSV (`CSV_COLUMNS` first, then the extra columns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.bars import BAR_COLUMNS
from mesdesk.config import Settings, load_settings
from mesdesk.data.registry import SOURCES, HistoryRequest
from mesdesk.data.vix import load_vix_csv, synthetic_vix
from mesdesk.errors import ConfigError, DataError
from mesdesk.services.root import Root
from mesdesk.setups.measured_move import MeasuredMoveConfig
from mesdesk.setups.measured_move_outcomes import OutcomeConfig
from mesdesk.setups.measured_move_scan import (
    CSV_COLUMNS,
    EXTRA_COLUMNS,
    TIME_COLUMNS,
    ScanConfig,
    evaluate,
    scan_bars,
)
from mesdesk.timeframes import SCAN_TIMEFRAMES, Timeframe

__all__ = [
    "MeasuredMoveConfig",
    "OutcomeConfig",
    "ScanConfig",
    "ScanRequest",
    "ScanResult",
    "load_scan_bars",
    "run_scan",
    "signal_records",
    "signals_payload",
    "write_signals_csv",
]


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """What to scan: where the bars and the VIX come from, how far back, and the scan rules."""

    days_back: int = 90
    source: str = "synthetic"
    file: Path | None = None
    vix_file: Path | None = None
    symbol: str | None = None  # databento/yahoo: the source's default (MES front month, MES=F)
    seed: int = 7
    config: ScanConfig = field(default_factory=ScanConfig)

    def __post_init__(self) -> None:
        if self.days_back < 1:
            raise ConfigError(f"--days-back must be >= 1, got {self.days_back}")
        SOURCES.get(self.source, param="--source")
        if self.source == "file" and self.file is None:
            raise ConfigError("--source file needs --file PATH (CSV or Parquet bars)")


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Signals of every timeframe plus what they were computed from."""

    signals: pd.DataFrame
    evaluation: pd.DataFrame
    bars: int
    first_bar: pd.Timestamp
    last_bar: pd.Timestamp
    bars_from: str
    vix_from: str


def history_request(request: ScanRequest, now: datetime) -> HistoryRequest:
    """The scan's window: ``days_back`` days from a fixed-origin market's first day (synthetic), else
    the last ``days_back`` days before `now` (a file is read whole and cut afterwards)."""
    origin = SOURCES.get(request.source).origin
    end = pd.Timestamp(now).floor("1min").to_pydatetime()
    return HistoryRequest(
        timeframe=None,
        symbol=request.symbol or "MES",
        start=origin,
        end=None if origin is None else origin + timedelta(days=request.days_back),
        days=request.days_back,
        placeholders="keep",
        window=(end - timedelta(days=request.days_back), end),
    )


def load_scan_bars(request: ScanRequest, settings: Settings, now: datetime | None = None) -> tuple[pd.DataFrame, str]:
    """The base bars of the request (1m or 5m) cut to the last ``days_back`` days, and their origin."""
    root = Root(settings)
    history = history_request(request, now or datetime.now(tz=UTC))
    bars = root.history(request.source, history, file=request.file, seed=request.seed)
    ctx = root.source_context(file=request.file, seed=request.seed)
    origin = SOURCES.get(request.source).describe(ctx, request.symbol or "MES")
    if len(bars) == 0:
        raise DataError(f"{origin}: no bars")
    bars = bars[[*BAR_COLUMNS]]
    cutoff = bars.index[-1] - pd.Timedelta(days=request.days_back)
    return bars[bars.index > cutoff], origin


def load_vix(request: ScanRequest, bars: pd.DataFrame, settings: Settings) -> tuple[pd.Series, str]:
    """Daily VIX closes: ``--vix-file``, else FRED VIXCLS when FRED_API_KEY is set, else synthetic."""
    if request.vix_file is not None:
        return load_vix_csv(request.vix_file), f"file {request.vix_file}"
    if settings.fred_api_key is not None and request.source != "synthetic":
        from mesdesk.data.fred import FredClient

        client = FredClient(settings.fred_api_key.get_secret_value(), settings.fred_base_url)
        first = bars.index[0] - pd.Timedelta(days=10)
        series = client.series("VIXCLS", first.date(), bars.index[-1].date())
        return series, "FRED VIXCLS"
    return synthetic_vix(bars), "synthetic (realized volatility of the bars; not the VIX)"


def run_scan(request: ScanRequest, settings: Settings | None = None, *, bars: pd.DataFrame | None = None) -> ScanResult:
    """Scan the request's bars (or the given validated `bars`) on every configured timeframe."""
    cfg = settings or load_settings()
    if bars is None:
        bars, origin = load_scan_bars(request, cfg)
    else:
        origin = "given bars"
    vix, vix_origin = load_vix(request, bars, cfg)
    signals = scan_bars(bars, request.config, vix)
    return ScanResult(
        signals=signals,
        evaluation=evaluate(signals, request.config.timeframes),
        bars=len(bars),
        first_bar=pd.Timestamp(bars.index[0]),
        last_bar=pd.Timestamp(bars.index[-1]),
        bars_from=origin,
        vix_from=vix_origin,
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(float(value)) else float(value)
    if value is pd.NaT or value is None:
        return None
    return value


def signal_records(signals: pd.DataFrame) -> list[dict[str, Any]]:
    """Signals as JSON-ready dicts: the CSV columns then the extras; ISO UTC times, NaN -> None."""
    columns = [*CSV_COLUMNS, *EXTRA_COLUMNS]
    return [
        {c: _json_value(v) for c, v in zip(columns, row, strict=True)}
        for row in signals[columns].itertuples(index=False)
    ]


def signals_payload(
    timeframe: str,
    *,
    request: ScanRequest | None = None,
    settings: Settings | None = None,
    bars: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Signals of one timeframe (e.g. ``"15m"``) for ``GET /mes/signals``, oldest first.

    A bad timeframe raises `ConfigError` naming the parameter (the API maps it to 422).
    """
    tf = Timeframe.parse(timeframe, param="timeframe")
    base = request or ScanRequest()
    if tf not in SCAN_TIMEFRAMES:
        raise ConfigError(f"timeframe={timeframe!r}: the scanner runs on 5m, 15m, 1h, 4h, 1d")
    one = replace(base, config=replace(base.config, timeframes=(tf,)))
    return signal_records(run_scan(one, settings, bars=bars).signals)


def write_signals_csv(signals: pd.DataFrame, path: Path) -> None:
    """The seed's CSV: one row per signal, `CSV_COLUMNS` first; times ISO 8601 UTC."""
    out = signals[[*CSV_COLUMNS, *EXTRA_COLUMNS]].copy()
    for col in TIME_COLUMNS:
        out[col] = pd.DatetimeIndex(out[col]).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(path, index=False, float_format="%.10g")
    except OSError as exc:
        raise ConfigError(f"--csv {path}: cannot write: {exc}") from None
