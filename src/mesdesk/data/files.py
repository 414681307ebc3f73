"""Bars from local CSV and Parquet files, validated at the edge.

Accepted layouts (column names in any case, surrounding spaces ignored):

- a time column: ``ts_utc``, ``ts``, ``timestamp``, ``datetime``, ``date_time``, ``time``, ``ts_event``,
  ``ts_et``, ``date`` (first found, in that order), or separate ``date`` and ``time`` columns;
- ``open, high, low, close, volume`` (also ``o, h, l, c, v, vol``).

Timestamps are bar **open** times. Their zone comes from the data when it states one (an ISO offset such
as ``-0400`` or ``Z``, a timezone-aware Parquet column, or integer epoch values), otherwise from the
``tz`` argument (an IANA name such as ``America/New_York``). Naive timestamps with no ``tz`` are refused:
guessing a zone would shift every bar. Errors are `DataError` naming the file, the row (for CSV: the
line number in the file, the header being line 1) and the value.

Placeholder bars (volume <= 1: what some vendors write for minutes without trades, see `placeholder_mask`) are
kept by default and can be dropped or flagged (``placeholders="drop" | "flag"``); a flagged frame has an
extra boolean column ``placeholder``.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mesdesk.bars import BAR_COLUMNS, CONTRACT_PRICE_BAND, validate_bars
from mesdesk.data.resample import resample
from mesdesk.errors import ConfigError, DataError
from mesdesk.timeframes import Timeframe

log = logging.getLogger(__name__)

Placeholders = Literal["keep", "drop", "flag"]

TIME_COLUMNS = ("ts_utc", "ts", "timestamp", "datetime", "date_time", "time", "ts_event", "ts_et", "date")
ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".gz"):
            frame = _read_csv(path)
        else:
            raise DataError(f"{path}: unknown file type {suffix!r} (use .csv or .parquet)")
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    pa.default_memory_pool().release_unused()  # arrow's buffers are copied out: give them back now
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    """Read with pyarrow (fast, typed); time columns stay text, prices and volume are inferred.

    A price column holding text (a typo) stays text here and is reported by `validate_bars`.
    """
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    # Time columns are read as text: pyarrow's own type inference would drop a 'Z' or an offset.
    text_columns = {c: pa.string() for c in header if _normalise(c) in TIME_COLUMNS}
    options = pacsv.ConvertOptions(column_types=text_columns, strings_can_be_null=True)  # type: ignore[attr-defined]
    table = pacsv.read_csv(path, convert_options=options)  # type: ignore[attr-defined]
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns[name] = column.to_pandas(types_mapper=pd.ArrowDtype)
        else:
            columns[name] = pd.Series(column.to_numpy())
    return pd.DataFrame(columns)


def _normalise(name: object) -> str:
    """Column name as matched: no byte-order mark, lower case, inner spaces or dashes as '_' ('Date Time')."""
    return re.sub(r"[\s-]+", "_", str(name).replace("\ufeff", "").strip().lower())


def _rename(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, str | tuple[str, str]]:
    """Lower-case names, apply aliases, and find the time column (or the date + time pair)."""
    names = {c: ALIASES.get(_normalise(c), _normalise(c)) for c in raw.columns}
    frame = raw.rename(columns=names)
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; have {list(raw.columns)}")
    if "date" in frame.columns and "time" in frame.columns and "ts_utc" not in frame.columns:
        return frame, ("date", "time")
    for name in TIME_COLUMNS:
        if name in frame.columns:
            return frame, name
    if isinstance(raw.index, pd.DatetimeIndex):
        return frame.reset_index(names="ts"), "ts"
    raise DataError(f"{source}: no time column (one of {', '.join(TIME_COLUMNS)}); have {list(raw.columns)}")


def _zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"tz={tz!r} is not an IANA time zone (e.g. America/New_York)") from None


def _epoch(values: pd.Series) -> pd.DatetimeIndex:
    """Integer epochs (UTC by definition); the unit is read from the magnitude."""
    v = values.to_numpy(dtype=np.int64)
    top = int(np.abs(v).max()) if v.size else 0
    per_ns = 10**9 if top < 10**11 else 10**6 if top < 10**14 else 10**3 if top < 10**17 else 1
    return pd.DatetimeIndex(v * per_ns, tz="UTC")


def _fast_parse(values: pd.Series, zone: ZoneInfo | None) -> pd.DatetimeIndex | None:
    """ISO text parsed by pyarrow: with offsets to UTC, or naive wall times in `zone`; None = use the slow path.

    pyarrow refuses a string without an offset when asked for zoned timestamps, so naive text never
    slips through as UTC here.
    """
    try:
        arr = pa.array(values, from_pandas=True)
        if arr.null_count:
            return None
        try:
            aware = pc.cast(arr, pa.timestamp("ns", tz="UTC"))  # type: ignore[no-untyped-call]
            return pd.DatetimeIndex(aware.to_numpy(zero_copy_only=False)).tz_localize("UTC")
        except pa.ArrowInvalid:
            if zone is None:
                return None
            naive_ts = pc.cast(arr, pa.timestamp("ns"))  # type: ignore[no-untyped-call]
            naive = pd.DatetimeIndex(naive_ts.to_numpy(zero_copy_only=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    local = naive.tz_localize(zone.key, ambiguous="NaT", nonexistent="NaT")
    return None if local.hasnans else local.tz_convert("UTC")


def _parse_strings(text: pd.Series, zone: ZoneInfo | None, source: str, row_base: int) -> pd.DatetimeIndex:
    fast = _fast_parse(text, zone)
    if fast is not None:
        return fast
    text = text.astype(object).astype(str).str.strip()
    has_offset = text.str.contains(_OFFSET).to_numpy(dtype=bool)
    if not has_offset.all():
        row = int(np.flatnonzero(~has_offset)[0])
        if pd.isna(pd.to_datetime(text.iloc[row], format="ISO8601", errors="coerce")):
            raise DataError(f"{source}: row {row + row_base}: cannot read timestamp {text.iloc[row]!r}")
    if has_offset.all():
        idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce"))
    elif zone is None:
        row = int(np.flatnonzero(~has_offset)[0])
        raise DataError(
            f"{source}: row {row + row_base}: naive timestamp {text.iloc[row]!r} and no time zone given "
            "(pass tz=, e.g. America/New_York, or write offsets in the data)"
        )
    elif has_offset.any():
        row = int(np.flatnonzero(~has_offset)[0])
        raise DataError(f"{source}: row {row + row_base}: timestamp {text.iloc[row]!r} has no offset, others do")
    else:
        naive = pd.to_datetime(text, format="ISO8601", errors="coerce")
        idx = _localize(pd.DatetimeIndex(naive), zone, text, source, row_base)
    bad = np.flatnonzero(idx.isna())
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{source}: row {row + row_base}: cannot read timestamp {text.iloc[row]!r}")
    return idx


def _localize(naive: pd.DatetimeIndex, zone: ZoneInfo, text: pd.Series, source: str, row_base: int) -> pd.DatetimeIndex:
    """Attach `zone` to wall times; a time that does not exist or occurs twice (DST) is refused."""
    local = naive.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    bad = np.flatnonzero(np.asarray(local.isna()) & ~np.asarray(naive.isna()))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{source}: row {row + row_base}: wall time {text.iloc[row]!r} is ambiguous or skipped in {zone.key} "
            "(a DST change): write offsets or UTC in the file"
        )
    return local.tz_convert("UTC")


def _timestamps(
    frame: pd.DataFrame, col: str | tuple[str, str], zone: ZoneInfo | None, source: str, row_base: int
) -> pd.DatetimeIndex:
    if isinstance(col, tuple):
        values: pd.Series = frame[col[0]].astype(str).str.strip() + " " + frame[col[1]].astype(str).str.strip()
    else:
        values = frame[col]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        if zone is None:
            raise DataError(f"{source}: row {row_base}: naive timestamps in column {col!r} and no time zone given")
        text = values.astype(str)
        return _localize(pd.DatetimeIndex(values), zone, text, source, row_base)
    if pd.api.types.is_integer_dtype(values.dtype):
        return _epoch(values)
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{source}: row {row + row_base}: missing timestamp")
    return _parse_strings(values, zone, source, row_base)


def placeholder_mask(bars: pd.DataFrame, max_volume: int = 1) -> np.ndarray:
    """Bars with volume <= `max_volume` (1): vendor fillers for minutes without real trades.

    Zero volume cannot make a bar, and one contract trades at one price, so a 0- or 1-lot bar with a
    range is invented; a flat 1-lot bar cannot be told apart from a filler. The real ES 1m file has 57
    such bars (34 of them flat), the 5m file 44 zero-volume bars.
    """
    mask: np.ndarray = bars["volume"].to_numpy() <= max_volume
    return mask


def load_bars(
    path: str | Path,
    *,
    tz: str | None = None,
    placeholders: Placeholders = "keep",
    price_band: tuple[float, float] | None = CONTRACT_PRICE_BAND,
) -> pd.DataFrame:
    """Read a CSV or Parquet file of bars into the mesdesk frame (UTC index `ts` = bar open).

    The file holds bars of an S&P 500 future: prices must lie in `price_band` (index points) and
    volume must be a whole number of contracts; either is a `DataError` naming file, row and field.

    Parameters
    ----------
    path
        ``.csv`` (optionally ``.csv.gz``) or ``.parquet``.
    tz
        Zone of naive timestamps (IANA name). Ignored for timestamps that state their offset.
    placeholders
        ``keep`` (default: nothing silently dropped), ``drop``, or ``flag`` (adds a ``placeholder`` column).
    price_band
        Plausible (low, high) prices, default `CONTRACT_PRICE_BAND`; None accepts any positive price
        (the override for another instrument).
    """
    if placeholders not in ("keep", "drop", "flag"):
        raise ConfigError(f"placeholders={placeholders!r}: choose keep, drop or flag")
    p = Path(path)
    source = str(p)
    zone = _zone(tz)
    row_base = 1 if p.suffix.lower() in (".parquet", ".pq") else 2  # CSV: file line numbers
    raw = _read(p)
    frame, col = _rename(raw, source)
    if len(frame) == 0:
        raise DataError(f"{source}: no bars (header only)")
    index = _timestamps(frame, col, zone, source, row_base)
    data = pd.DataFrame({c: frame[c].to_numpy() for c in BAR_COLUMNS}, index=index, copy=False)
    bars = validate_bars(data, source=source, row_base=row_base, price_band=price_band, whole_volume=True)
    mask = placeholder_mask(bars)
    if mask.any():
        log.info("%s: %d placeholder bars (%s)", source, int(mask.sum()), placeholders)
    if placeholders == "drop" and mask.any():  # no copy of a million bars to drop none
        bars = bars[~mask]
    elif placeholders == "flag":
        bars = bars.assign(placeholder=mask)
    return bars


def infer_span(bars: pd.DataFrame) -> pd.Timedelta:
    """The bar length of a file: the most common gap between consecutive bars."""
    if len(bars) < 2:
        raise DataError("cannot infer the bar length from fewer than two bars")
    gaps = np.diff(pd.DatetimeIndex(bars.index).as_unit("ns").asi8)
    values, counts = np.unique(gaps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


@dataclass
class FileSource:
    """A `BarSource` over one local file of one symbol; higher timeframes are resampled from it.

    The file is read once, on first use. `symbol` None accepts any symbol name (the file is the data).
    """

    path: Path
    symbol: str | None = None
    tz: str | None = None
    placeholders: Placeholders = "keep"
    _bars: pd.DataFrame | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"file:{Path(self.path).name}"

    def _load(self) -> pd.DataFrame:
        if self._bars is None:
            self._bars = load_bars(self.path, tz=self.tz, placeholders=self.placeholders)
        return self._bars

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> pd.DataFrame:
        """Bars opening in [start, end) UTC at `timeframe` (resampled when the file is finer)."""
        if self.symbol is not None and symbol.upper() != self.symbol.upper():
            raise ConfigError(f"symbol={symbol!r}: {self.path} holds {self.symbol}")
        if start.tzinfo is None or end.tzinfo is None:
            raise ConfigError("start and end must be timezone-aware")
        bars = self._load()[list(BAR_COLUMNS)]
        span = infer_span(bars)
        target = pd.Timedelta(timeframe.span)
        if target < span:
            raise ConfigError(f"timeframe={timeframe.value}: {self.path} has {span} bars, cannot go finer")
        if target > span:
            bars = resample(bars, timeframe, source_span=span)
        lo, hi = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
        return bars[(bars.index >= lo) & (bars.index < hi)]
