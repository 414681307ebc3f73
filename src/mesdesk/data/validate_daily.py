"""Daily validation: daily OHLC built from intraday bars against Yahoo's daily bars.

Both sides are keyed by CME trading day (17:00-16:00 CT). Yahoo's daily futures bars have been
seen labelled one day off, so the comparison tries a shift of -1, 0 and +1 trading day and keeps the
one under which most days agree; a shift other than 0 is reported, never applied silently.

Expect the close to differ more often than the other fields: Yahoo's daily close of a future can be
the settlement price (set around 15:00 CT), while a day built from intraday bars closes at the last
trade before 16:00 CT. Each field is reported on its own so that pattern is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from mesdesk.bars import BAR_COLUMNS, PRICE_COLUMNS
from mesdesk.calendar import trading_days
from mesdesk.data.resample import resample
from mesdesk.errors import ConfigError
from mesdesk.timeframes import Timeframe

SHIFTS = (0, -1, 1)


@dataclass(frozen=True, slots=True)
class DayDifference:
    """One trading day whose OHLC differ beyond the tolerance (points; intraday minus Yahoo)."""

    trading_day: date
    fields: tuple[str, ...]
    intraday: tuple[float, float, float, float]
    yahoo: tuple[float, float, float, float]
    max_diff_pts: float


@dataclass(frozen=True, slots=True)
class DailyReport:
    """The outcome of a daily comparison."""

    tolerance_pts: float
    shift_days: int
    days_compared: int
    differences: tuple[DayDifference, ...]
    field_counts: dict[str, int]
    only_intraday: tuple[date, ...]
    only_yahoo: tuple[date, ...]

    @property
    def ok(self) -> bool:
        return not self.differences and self.shift_days == 0


def _by_day(frame: pd.DataFrame) -> pd.DataFrame:
    days = trading_days(pd.DatetimeIndex(frame.index))
    out = pd.DataFrame(frame[list(PRICE_COLUMNS)].to_numpy(), columns=list(PRICE_COLUMNS))
    out.index = pd.Index(days, name="trading_day")
    return out[~out.index.duplicated(keep="last")]


def daily_from_intraday(intraday: pd.DataFrame, source_span: pd.Timedelta | None = None) -> pd.DataFrame:
    """Complete trading-day bars resampled from intraday bars (17:00 CT anchor)."""
    if len(intraday) == 0:
        raise ConfigError("daily validation: no intraday bars to build days from")
    return resample(intraday[list(BAR_COLUMNS)], Timeframe.D1, source_span=source_span)


def compare_daily(
    built_daily: pd.DataFrame,
    yahoo_daily: pd.DataFrame,
    *,
    tolerance_pts: float = 1.0,
    fields: tuple[str, ...] = PRICE_COLUMNS,
) -> DailyReport:
    """Compare daily bars (both keyed by trading-day open) field by field; see the module doc."""
    if tolerance_pts < 0:
        raise ConfigError(f"tolerance={tolerance_pts}: must be >= 0 points")
    unknown = [f for f in fields if f not in PRICE_COLUMNS]
    if unknown:
        raise ConfigError(f"fields {unknown}: choose among {', '.join(PRICE_COLUMNS)}")
    mine = _by_day(built_daily)
    theirs_raw = _by_day(yahoo_daily)
    best: tuple[int, int, pd.DataFrame] | None = None
    for shift in SHIFTS:
        theirs = theirs_raw.copy()
        days = theirs.index.to_numpy().astype("datetime64[D]")
        theirs.index = pd.Index(np.busday_offset(days, shift, roll="forward"), name="trading_day")
        joined = mine.join(theirs, how="inner", lsuffix="_i", rsuffix="_y")
        diffs = np.column_stack([joined[f"{f}_i"] - joined[f"{f}_y"] for f in fields]) if len(joined) else None
        agree = int((np.abs(diffs) <= tolerance_pts).all(axis=1).sum()) if diffs is not None else 0
        if best is None or agree > best[1]:
            best = (shift, agree, joined)
    assert best is not None
    shift, _, joined = best
    differences = []
    counts = dict.fromkeys(fields, 0)
    for day, row in joined.iterrows():
        diff = {f: float(row[f"{f}_i"] - row[f"{f}_y"]) for f in fields}
        bad = tuple(f for f in fields if abs(diff[f]) > tolerance_pts)
        for f in bad:
            counts[f] += 1
        if bad:
            differences.append(
                DayDifference(
                    trading_day=pd.Timestamp(str(day)).date(),
                    fields=bad,
                    intraday=tuple(float(row[f"{f}_i"]) for f in PRICE_COLUMNS),  # type: ignore[arg-type]
                    yahoo=tuple(float(row[f"{f}_y"]) for f in PRICE_COLUMNS),  # type: ignore[arg-type]
                    max_diff_pts=max(abs(diff[f]) for f in bad),
                )
            )
    shifted = theirs_raw.index.to_numpy().astype("datetime64[D]")
    shifted = np.busday_offset(shifted, shift, roll="forward")
    mine_days: set[date] = set(pd.DatetimeIndex(mine.index).date.tolist())
    their_days: set[date] = set(pd.DatetimeIndex(shifted).date.tolist())
    return DailyReport(
        tolerance_pts=tolerance_pts,
        shift_days=shift,
        days_compared=len(joined),
        differences=tuple(differences),
        field_counts=counts,
        only_intraday=tuple(sorted(mine_days - their_days)),
        only_yahoo=tuple(sorted(their_days - mine_days)),
    )
