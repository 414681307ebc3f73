"""Reading the candidate frame (CONTRACTS.md): decision times, the prefilter mask, `Candidate` rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.errors import DataError
from mesdesk.model import Candidate, Direction, SetupType

REQUIRED_COLUMNS = ("ts", "setup_type", "direction", "ref_entry", "prefilter_score")
# Columns that are not features (identity, labels, text).
NON_FEATURES = frozenset(
    {
        "ts",
        "bar_index",
        "setup_type",
        "direction",
        "ref_entry",
        "prefilter_score",
        "passed_prefilter",
        "volume_multiple",
        "atr_5m",
        "session_label",
        "trading_day",
        "timestamp_ct",
    }
)


def check_candidates(candidates: pd.DataFrame) -> None:
    """Raise `DataError` naming the problem when the frame breaks the contract."""
    missing = [c for c in REQUIRED_COLUMNS if c not in candidates.columns]
    if missing:
        raise DataError(f"candidate frame: missing column(s) {', '.join(missing)}")
    ts = candidates["ts"]
    if len(ts) and getattr(ts.dt, "tz", None) is None:
        raise DataError("candidate frame: ts must be timezone-aware UTC")
    if len(ts) > 1 and not ts.is_monotonic_increasing:
        raise DataError("candidate frame: rows must be sorted by ts")


def candidate_ns(candidates: pd.DataFrame) -> np.ndarray:
    """Candidate times as int64 UTC nanoseconds."""
    if len(candidates) == 0:
        return np.empty(0, dtype=np.int64)
    index = pd.DatetimeIndex(candidates["ts"]).tz_convert("UTC").as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def decision_times(candidates: pd.DataFrame, batch_window_s: int) -> np.ndarray:
    """When each candidate is decided: the end of its epoch-aligned batch window (ns UTC).

    With ``batch_window_s=0`` a candidate is decided at its own time.
    """
    check_candidates(candidates)
    ts = candidate_ns(candidates)
    if batch_window_s == 0:
        return ts
    width = batch_window_s * 1_000_000_000
    result: np.ndarray = (ts // width + 1) * width
    return result


def passed_mask(candidates: pd.DataFrame, threshold: float) -> np.ndarray:
    """`passed_prefilter` when the frame has it, else score >= threshold."""
    if "passed_prefilter" in candidates.columns:
        return np.asarray(candidates["passed_prefilter"].to_numpy(dtype=bool))
    return np.asarray(candidates["prefilter_score"].to_numpy(dtype=np.float64) >= threshold)


def _cell(frame: pd.DataFrame, column: str, row: int) -> Any:
    return frame[column].iat[row]


def _float(frame: pd.DataFrame, column: str, row: int) -> float:
    if column not in frame.columns:
        return float("nan")
    value = _cell(frame, column, row)
    return float("nan") if value is None else float(value)


def candidate_from_row(frame: pd.DataFrame, row: int) -> Candidate:
    """The `Candidate` of row `row` (features: every other numeric column)."""
    ts = pd.Timestamp(_cell(frame, "ts", row)).to_pydatetime()
    raw_day = _cell(frame, "trading_day", row) if "trading_day" in frame.columns else None
    if raw_day is not None and not pd.isna(raw_day):
        day: date = pd.Timestamp(raw_day).date()
    else:
        day = trading_day(ts)
    features = {
        c: float(_cell(frame, c, row))
        for c in frame.columns
        if c not in NON_FEATURES and pd.api.types.is_numeric_dtype(frame[c].dtype)
    }
    return Candidate(
        ts=ts,
        setup_type=SetupType(str(frame["setup_type"].iat[row])),
        direction=Direction(str(frame["direction"].iat[row])),
        ref_entry=float(_cell(frame, "ref_entry", row)),
        prefilter_score=float(_cell(frame, "prefilter_score", row)),
        volume_multiple=_float(frame, "volume_multiple", row),
        atr_5m=_float(frame, "atr_5m", row),
        session_label=str(frame["session_label"].iat[row]) if "session_label" in frame.columns else "",
        trading_day=day,
        features=features,
    )
