"""Daily VIX closes for the scanner's regime filter: from a CSV file, FRED, or a synthetic series.

A series here is a `pd.Series` of daily closes indexed by date (``datetime64[ns]``, naive: a calendar
date, not an instant), float values, NaN for a missing day.

Point-in-time rule (`mesdesk.data.fred`'s rule for VIXCLS, used for every source here): the close
of date ``D`` is usable from ``D + 1`` 00:00 America/New_York. The index closes at 16:15 ET and FRED
publishes the value the next morning, so this is a slight head start over a FRED user and never a
peek at a close that has not happened. `vix_asof` returns, for each instant, the last close usable at or before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.calendar import trading_days
from mesdesk.data.fred import NEXT_DAY, fred_point_in_time
from mesdesk.errors import DataError

_DATE_COLUMNS = ("observation_date", "date", "DATE", "Date")
_VALUE_COLUMNS = ("VIXCLS", "vix", "VIX", "close", "Close", "value")


def vix_asof(closes: pd.Series, at: pd.DatetimeIndex) -> npt.NDArray[np.float64]:
    """The last VIX close usable at or before each instant of `at` (UTC); NaN where none is."""
    return np.asarray(fred_point_in_time(closes, pd.DatetimeIndex(at), rule=NEXT_DAY), dtype=np.float64)


def vix_filter_passed(
    direction: npt.ArrayLike, vix: npt.ArrayLike, *, long_max: float = 18.0, short_min: float = 16.0
) -> npt.NDArray[np.bool_]:
    """True where the regime allows the trade: longs need VIX <= long_max, shorts VIX >= short_min.

    (The seed: longs are filtered when VIX > 18, shorts when VIX < 16; the edges themselves pass.)
    An unknown VIX (NaN) never passes: no regime, no trade.
    """
    d = np.asarray(direction)
    v = np.asarray(vix, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        longs_ok = (d == "long") & (v <= long_max)
        shorts_ok = (d == "short") & (v >= short_min)
    return np.asarray(longs_ok | shorts_ok, dtype=bool)


def load_vix_csv(path: Path) -> pd.Series:
    """Daily closes from a CSV: FRED's download (``observation_date,VIXCLS``) or ``date,close``.

    "." or an empty cell is a missing day (NaN). A bad date or value raises `DataError` naming the
    file, the line and the value.
    """
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot read VIX CSV: {exc}") from None
    date_col = next((c for c in _DATE_COLUMNS if c in raw.columns), None)
    value_col = next((c for c in _VALUE_COLUMNS if c in raw.columns), None)
    if date_col is None or value_col is None:
        raise DataError(
            f"{path}: VIX CSV needs a date column ({', '.join(_DATE_COLUMNS)}) and a value column "
            f"({', '.join(_VALUE_COLUMNS)}); have {list(raw.columns)}"
        )
    if raw.empty:
        raise DataError(f"{path}: VIX CSV has no rows")
    dates = pd.to_datetime(raw[date_col].str.strip(), format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        raise DataError(
            f"{path}: line {bad[0] + 2}: {date_col} {raw[date_col].iloc[bad[0]]!r} is not a YYYY-MM-DD date"
        )
    text = raw[value_col].str.strip()
    missing = text.isin([".", ""]).to_numpy()
    values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~missing & ~np.isfinite(values))
    if bad.size == 0:
        bad = np.flatnonzero(~missing & (values <= 0))
    if bad.size:
        raise DataError(f"{path}: line {bad[0] + 2}: {value_col} {text.iloc[bad[0]]!r} is not a positive number")
    series = pd.Series(values, index=pd.DatetimeIndex(dates, name="date"), name="vix")
    if series.index.duplicated().any():
        dup = series.index[series.index.duplicated()][0]
        raise DataError(f"{path}: date {dup.date()} appears twice")
    return series.sort_index()


def _trading_days_fast(index: pd.DatetimeIndex) -> npt.NDArray[np.datetime64]:
    """`trading_days` computed once per clock hour (the 17:00 CT boundary is on the hour)."""
    hours = index.as_unit("ns").asi8 // 3_600_000_000_000
    first = np.ones(hours.size, dtype=bool)
    first[1:] = hours[1:] != hours[:-1]
    starts = np.flatnonzero(first)
    per_hour = trading_days(index[starts])
    counts = np.diff(np.append(starts, hours.size))
    return np.asarray(np.repeat(per_hour, counts))


def synthetic_vix(bars: pd.DataFrame, *, window_days: int = 10, premium_pts: float = 3.0) -> pd.Series:
    """A deterministic, VIX-like daily series made from the bars' own realized volatility. SYNTHETIC.

    For each CME trading day: realized variance = sum of squared log returns between consecutive
    bars of that day (the overnight jump into the day included). The value for day ``D`` is
    ``100 * sqrt(252 * mean(RV over the last window_days days up to D)) + premium_pts``: annualized
    realized volatility in percent plus a flat variance-risk premium, which puts ES in the usual VIX
    range. It is not the VIX and not a forecast; it only lets the regime filter run without data.
    It is indexed by trading day and obeys the same point-in-time rule as a real close.
    """
    if len(bars) < 2:
        return pd.Series(dtype="float64", name="vix")
    close = bars["close"].to_numpy(dtype=np.float64)
    r = np.diff(np.log(close))
    days = _trading_days_fast(pd.DatetimeIndex(bars.index))[1:]
    rv = pd.Series(r * r).groupby(days).sum()
    mean_rv = rv.rolling(window_days, min_periods=1).mean()
    vix = 100.0 * np.sqrt(252.0 * mean_rv.to_numpy()) + premium_pts
    index = pd.DatetimeIndex(pd.to_datetime(rv.index), name="date")
    return pd.Series(np.round(vix, 2), index=index, name="vix")
