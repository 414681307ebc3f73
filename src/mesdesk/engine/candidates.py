"""Reading the candidate frame (docs/setups.md): decision times, the prefilter mask, `Candidate` rows.

The columns are those of `mesdesk.candidates`, the one schema.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.candidates import NON_FEATURES, REQUIRED_COLUMNS
from mesdesk.errors import DataError
from mesdesk.model import Candidate, Direction

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


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


class CandidateTable:
    """Column arrays of a candidate frame, so single rows become `Candidate`s without pandas lookups."""

    def __init__(self, frame: pd.DataFrame) -> None:
        check_candidates(frame)
        n = len(frame)
        self.n = n
        self.ts_ns = candidate_ns(frame)
        self.setup = frame["setup_type"].astype(str).to_numpy(dtype=object)
        self.direction = frame["direction"].astype(str).to_numpy(dtype=object)
        self.sign = np.where(self.direction == "long", 1, -1)
        self.ref_entry = frame["ref_entry"].to_numpy(dtype=np.float64)
        self.score = frame["prefilter_score"].to_numpy(dtype=np.float64)
        self.volume_multiple = self._floats(frame, "volume_multiple")
        self.atr_5m = self._floats(frame, "atr_5m")
        self.session = (
            frame["session_label"].astype(str).to_numpy(dtype=object)
            if "session_label" in frame.columns
            else np.full(n, "", dtype=object)
        )
        if "trading_day" in frame.columns:
            days = pd.to_datetime(frame["trading_day"]).to_numpy().astype("datetime64[D]")
            self.day: list[date | None] = days.astype(object).tolist()  # NaT becomes None
        else:
            self.day = [None] * n
        self.feature_names = [
            c for c in frame.columns if c not in NON_FEATURES and pd.api.types.is_numeric_dtype(frame[c].dtype)
        ]
        self.features = (
            frame[self.feature_names].to_numpy(dtype=np.float64)
            if self.feature_names
            else np.empty((n, 0), dtype=np.float64)
        )

    @staticmethod
    def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
        if column not in frame.columns:
            return np.full(len(frame), np.nan)
        return np.asarray(frame[column].to_numpy(dtype=np.float64))

    def candidate(self, row: int) -> Candidate:
        """The `Candidate` of one row (features: every numeric column beyond the identity ones)."""
        ts = _EPOCH + timedelta(microseconds=int(self.ts_ns[row]) // 1000)
        day = self.day[row]
        return Candidate(
            ts=ts,
            setup_type=str(self.setup[row]),
            direction=Direction(self.direction[row]),
            ref_entry=float(self.ref_entry[row]),
            prefilter_score=float(self.score[row]),
            volume_multiple=float(self.volume_multiple[row]),
            atr_5m=float(self.atr_5m[row]),
            session_label=str(self.session[row]),
            trading_day=day if day is not None else trading_day(ts),
            features=dict(zip(self.feature_names, self.features[row].tolist(), strict=True)),
        )


def candidate_from_row(frame: pd.DataFrame, row: int) -> Candidate:
    """The `Candidate` of row `row` of a candidate frame (see `CandidateTable` for many rows)."""
    return CandidateTable(frame.iloc[row : row + 1]).candidate(0)
