"""The price path a position walks: bars (or finer sub-bars) as flat numpy arrays.

One type for every fill walk: the engine's bracket, learning's counterfactuals and the measured-move
scanner's outcomes (all in `mesdesk.engine.fills`). Times are int64 UTC nanoseconds; `ts_ns` is each
bar's open, `close_ns` the moment it is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class PathBars:
    """OHLC arrays of a bar frame (mesdesk convention) plus open/close times in ns UTC."""

    ts_ns: IntArray
    close_ns: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, span: pd.Timedelta) -> PathBars:
        """Arrays of `frame` (index: bar open, UTC); `span` is the bar length (known at open + span)."""
        index = frame.index
        if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
            raise DataError("path bars need a timezone-aware DatetimeIndex (bar open, UTC)")
        utc = index.tz_convert("UTC")
        ts_ns = np.asarray((utc if utc.unit == "ns" else utc.as_unit("ns")).asi8, dtype=np.int64)  # as_unit copies
        span_ns = int(pd.Timedelta(span).value)
        if span_ns <= 0:
            raise DataError(f"bar span must be positive, got {span}")
        return cls(
            ts_ns=ts_ns,
            close_ns=ts_ns + span_ns,
            open=np.ascontiguousarray(frame["open"].to_numpy(dtype=np.float64)),
            high=np.ascontiguousarray(frame["high"].to_numpy(dtype=np.float64)),
            low=np.ascontiguousarray(frame["low"].to_numpy(dtype=np.float64)),
            close=np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64)),
        )

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def first_open_at_or_after(self, t_ns: int) -> int:
        """Index of the first bar whose open is at or after `t_ns` (len when none)."""
        return int(self.ts_ns.searchsorted(t_ns, side="left"))

    def known_count(self, now_ns: int) -> int:
        """How many bars have closed at or before `now_ns`."""
        return int(self.close_ns.searchsorted(now_ns, side="right"))

    def last_closed_by(self, t_ns: int) -> int:
        """Index of the last bar that closed at or before `t_ns` (-1 when none)."""
        return int(self.close_ns.searchsorted(t_ns, side="right")) - 1
