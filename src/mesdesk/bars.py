"""Bars as columnar data and their validation at the edge.

The frame convention used everywhere in mesdesk:

- index: `DatetimeIndex` named ``ts``, timezone-aware UTC, the bar's **open** time, strictly increasing;
- columns: ``open, high, low, close`` (float64) and ``volume`` (int64), in that order;
- a bar keyed at ``ts`` is known only at ``ts + span`` (its close).

`validate_bars` turns a frame from any source into that form. Fixable problems (rows out of order)
are fixed with a warning; broken ones raise `DataError` naming the source, the row and the value.
Gaps are never filled.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from mesdesk.errors import DataError

log = logging.getLogger(__name__)

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = (*PRICE_COLUMNS, "volume")


class DataWarning(UserWarning):
    """A fixable data problem was fixed (e.g. rows sorted)."""


def empty_bars() -> pd.DataFrame:
    """A valid frame with no rows."""
    idx = pd.DatetimeIndex([], tz="UTC", name="ts").as_unit("ns")
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in PRICE_COLUMNS}, index=idx)
    frame["volume"] = pd.Series(dtype="int64")
    return frame


def _row_label(positions: np.ndarray, row_base: int) -> str:
    shown = ", ".join(str(int(p) + row_base) for p in positions[:5])
    more = f" (+{len(positions) - 5} more)" if len(positions) > 5 else ""
    return f"row {shown}{more}" if len(positions) == 1 else f"rows {shown}{more}"


CONTRACT_PRICE_BAND = (0.25, 100_000.0)
"""Prices an index future quoted in quarter points can have: at least one tick (0.25), at most
100,000 (ES/MES has traded between about 600 and 7,000, so this leaves room for other index
futures). A price outside is a unit or parsing error (prices in cents, a shifted column, 1e300)."""


def _as_float(column: pd.Series) -> np.ndarray:
    """float64 values of a column; text that is not a number becomes NaN (the caller reports it).

    A column already holding numbers is not parsed again (no copy for float64): the same values as
    `pd.to_numeric`, without its pass over a million bars.
    """
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiu":
        return column.to_numpy(dtype="float64")
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")


def _check_prices(
    frame: pd.DataFrame, col: str, source: str, row_base: int, price_band: tuple[float, float] | None
) -> np.ndarray:
    values = _as_float(frame[col])
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raw = frame[col].iloc[bad[0]]
        raise DataError(f"{source}: {_row_label(bad, row_base)}: {col} is not a finite price ({raw!r})")
    bad = np.flatnonzero(values <= 0)
    if bad.size:
        raise DataError(f"{source}: {_row_label(bad, row_base)}: {col} {values[bad[0]]:g} is not a positive price")
    if price_band is not None:
        low, high = price_band
        bad = np.flatnonzero((values < low) | (values > high))
        if bad.size:
            raise DataError(
                f"{source}: {_row_label(bad, row_base)}: {col} {values[bad[0]]:g} is outside the plausible "
                f"{low:g}-{high:g} of this contract (a unit or column error?; override the band to accept it)"
            )
    return values


def _check_volume(frame: pd.DataFrame, source: str, row_base: int, whole_volume: bool) -> np.ndarray:
    column = frame["volume"]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind == "i":  # whole and finite already
        ints = column.to_numpy()
        bad = np.flatnonzero(ints < 0)
        if bad.size:
            raise DataError(f"{source}: {_row_label(bad, row_base)}: negative volume {float(ints[bad[0]]):g}")
        return ints.astype("int64", copy=False)
    vol = _as_float(column)
    bad = np.flatnonzero(~np.isfinite(vol))
    if bad.size:
        raw = column.iloc[bad[0]]
        raise DataError(f"{source}: {_row_label(bad, row_base)}: volume is not a number ({raw!r})")
    bad = np.flatnonzero(vol < 0)
    if bad.size:
        raise DataError(f"{source}: {_row_label(bad, row_base)}: negative volume {vol[bad[0]]:g}")
    if whole_volume:
        bad = np.flatnonzero(vol != np.floor(vol))
        if bad.size:
            raise DataError(
                f"{source}: {_row_label(bad, row_base)}: volume {vol[bad[0]]:g} is not a whole number of contracts"
            )
    return vol.astype("int64")


def _numeric_columns(
    frame: pd.DataFrame,
    source: str,
    row_base: int,
    price_band: tuple[float, float] | None,
    whole_volume: bool,
) -> pd.DataFrame:
    """Prices as finite positive float64, volume as non-negative int64, index in UTC nanoseconds.

    The frame is built once from the checked arrays, without copying them: on a million bars each
    copy costs more in page faults than the checks themselves.
    """
    index = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns").rename("ts")
    columns = {col: _check_prices(frame, col, source, row_base, price_band) for col in PRICE_COLUMNS}
    columns["volume"] = _check_volume(frame, source, row_base, whole_volume)
    return pd.DataFrame(columns, index=index, copy=False)


def validate_bars(
    frame: pd.DataFrame,
    *,
    source: str = "<frame>",
    row_base: int = 1,
    price_band: tuple[float, float] | None = None,
    whole_volume: bool = False,
) -> pd.DataFrame:
    """Check and normalise bars; returns a new frame in the mesdesk convention.

    Prices must be finite and positive; volume finite and non-negative.

    Parameters
    ----------
    frame
        Index: timezone-aware timestamps (bar open). Columns: at least open, high, low, close, volume.
    source
        Named in every error (a file path, a provider and symbol).
    row_base
        Number given to the first row in messages (2 for a CSV with a header line = file line numbers).
    price_band
        (low, high): refuse any price outside it, e.g. `CONTRACT_PRICE_BAND`; None: any positive price.
    whole_volume
        Volume counts contracts: a fractional volume is refused instead of truncated.
    """
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; have {list(frame.columns)}")
    if len(frame) == 0:
        raise DataError(f"{source}: no bars")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{source}: index must be timestamps, got {type(frame.index).__name__}")
    if frame.index.tz is None:
        raise DataError(f"{source}: naive timestamps (no time zone) at row {row_base}: {frame.index[0]}")
    if frame.index.hasnans:
        bad = np.flatnonzero(frame.index.isna())
        raise DataError(f"{source}: missing timestamp at {_row_label(bad, row_base)}")

    out = _numeric_columns(frame, source, row_base, price_band, whole_volume)

    o, h, lo, c = (out[col].to_numpy() for col in PRICE_COLUMNS)
    bad = np.flatnonzero(h < lo)
    if bad.size:
        i = bad[0]
        raise DataError(f"{source}: {_row_label(bad, row_base)}: high {h[i]:g} < low {lo[i]:g}")
    bad = np.flatnonzero((h < np.maximum(o, c)) | (lo > np.minimum(o, c)))
    if bad.size:
        i = bad[0]
        raise DataError(
            f"{source}: {_row_label(bad, row_base)}: open/close outside high-low "
            f"(o={o[i]:g} h={h[i]:g} l={lo[i]:g} c={c[i]:g})"
        )

    positions = np.arange(len(out))
    if not out.index.is_monotonic_increasing:
        order = np.argsort(out.index.to_numpy(), kind="stable")
        out = out.iloc[order]
        positions = positions[order]
        msg = f"{source}: rows were not in time order; sorted"
        warnings.warn(msg, DataWarning, stacklevel=2)
        log.warning(msg)
    dup = out.index.duplicated(keep=False)
    if dup.any():
        rows = positions[dup]
        raise DataError(f"{source}: duplicate timestamp {out.index[dup][0]} at {_row_label(rows, row_base)}")
    return out


def bars_known_at(bars: pd.DataFrame, now: pd.Timestamp, span: pd.Timedelta) -> pd.DataFrame:
    """Bars that have closed at or before `now` (open + span <= now)."""
    cutoff = now - span
    return bars.loc[:cutoff] if len(bars) else bars
