"""A Parquet cache of downloaded bars: a repeated request costs nothing, an overlapping one little.

One file per (source, symbol, timeframe) under ``<data_dir>/cache/<source>/<symbol>/<tf>.parquet``
holds the bars (the mesdesk frame convention, plus provider columns such as ``symbol``, the
contract behind each bar) and, in the Parquet metadata, the time ranges already **covered**: ranges
that were asked for and answered, with or without bars (a weekend is covered and holds none).

- A request inside the covered ranges is served from disk: no network call.
- A partly-covered request fetches only the missing ranges.
- `refresh=True` fetches the whole range again; bars outside it are kept.
- Every piece fetched is merged and written at once (temporary file, fsync, rename), so a failure
  later on loses nothing already cached and never leaves a half-written file.
- Files are validated on read (`validate_bars`); a broken file is a `DataError` naming it.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mesdesk.bars import BAR_COLUMNS, empty_bars, validate_bars
from mesdesk.errors import DataError
from mesdesk.timeframes import Timeframe

Interval = tuple[int, int]  # [start, end) in UTC nanoseconds


@dataclass(frozen=True, slots=True)
class Piece:
    """A provider's answer for `fetched`; `covered` (a prefix of it) is final and need not be asked again.

    Bars near now may still be published late, so a source may answer for more than it vouches for.
    """

    bars: pd.DataFrame
    fetched: Interval
    covered: Interval


Fetcher = Callable[[list[Interval]], Iterable[Piece]]

_META_COVERAGE = b"mesdesk.coverage"
_META_VERSION = b"mesdesk.cache_version"
_META_KEY = b"mesdesk.key"
_VERSION = b"1"


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What a cache file holds: bars of `symbol` at `timeframe` from `source`."""

    source: str
    symbol: str
    timeframe: Timeframe

    def relative_path(self) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.symbol)
        return Path(self.source) / safe / f"{self.timeframe.value}.parquet"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cache file as `mesdesk data ls` shows it."""

    key: CacheKey
    path: Path
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    coverage: tuple[Interval, ...]
    size_bytes: int


def index_ns(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    """The frame's timestamps as int64 UTC nanoseconds."""
    return np.asarray(pd.DatetimeIndex(frame.index).as_unit("ns").asi8)


def to_ns(ts: pd.Timestamp | object) -> int:
    """A timezone-aware instant as UTC nanoseconds (naive input is refused)."""
    stamp = pd.Timestamp(ts)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        raise DataError(f"naive timestamp {stamp} (give a time zone, e.g. UTC)")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of half-open intervals, sorted; touching intervals are joined."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract_intervals(want: Interval, have: Iterable[Interval]) -> list[Interval]:
    """Parts of `want` not covered by `have`."""
    start, end = want
    missing: list[Interval] = []
    cursor = start
    for a, b in merge_intervals(have):
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            missing.append((cursor, min(a, end)))
        cursor = max(cursor, b)
        if cursor >= end:
            break
    if cursor < end:
        missing.append((cursor, end))
    return missing


def normalise(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate the bar columns and carry the extra (provider) columns along, aligned by time."""
    bars = validate_bars(frame, source=source)
    extras = [c for c in frame.columns if c not in BAR_COLUMNS]
    if not extras:
        return bars
    original = frame[extras].copy()
    original.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns").rename("ts")
    same_order = original.index.equals(bars.index)
    for col in extras:
        bars[col] = original[col].to_numpy() if same_order else original[col].reindex(bars.index).to_numpy()
    return bars


class BarCache:
    """Bars on disk under `root`, with the ranges they cover (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: CacheKey) -> Path:
        return self.root / key.relative_path()

    # --- reading --------------------------------------------------------------------------------

    def read(self, key: CacheKey) -> tuple[pd.DataFrame, list[Interval]] | None:
        """The cached bars and covered ranges, validated; None when nothing is cached."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            table = pq.ParquetFile(path).read()  # type: ignore[no-untyped-call]
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cache file {path} is unreadable ({exc}); fetch again with --refresh") from None
        meta = table.schema.metadata or {}
        try:
            coverage = [(int(a), int(b)) for a, b in json.loads(meta[_META_COVERAGE])]
        except (KeyError, ValueError, TypeError):
            raise DataError(f"cache file {path} has no coverage record; fetch again with --refresh") from None
        frame = table.to_pandas()
        if len(frame) == 0:
            return frame, coverage
        if "symbol" in frame.columns:
            frame["symbol"] = frame["symbol"].astype(object)
        return normalise(frame, source=str(path)), coverage

    def bars(self, key: CacheKey, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
        """Cached bars with open in [start, end) if that whole range is covered, else None."""
        got = self.read(key)
        if got is None:
            return None
        frame, coverage = got
        if subtract_intervals((to_ns(start), to_ns(end)), coverage):
            return None
        return _slice(frame, to_ns(start), to_ns(end))

    def missing(self, key: CacheKey, start: pd.Timestamp, end: pd.Timestamp) -> list[Interval]:
        """The parts of [start, end) not yet covered."""
        got = self.read(key)
        coverage = got[1] if got is not None else []
        return subtract_intervals((to_ns(start), to_ns(end)), coverage)

    # --- writing --------------------------------------------------------------------------------

    def store(
        self,
        key: CacheKey,
        new: pd.DataFrame,
        fetched: Interval,
        covered: Interval | None = None,
        *,
        discard_broken: bool = False,
    ) -> pd.DataFrame:
        """Replace the cached bars inside `fetched` by `new`, mark `covered`; written atomically.

        The provider's latest answer for a range replaces the old one (no stale bars survive a
        refresh). `covered` defaults to `fetched`. With `discard_broken`, an unreadable or invalid
        existing file is replaced instead of raising.
        """
        covered = fetched if covered is None else covered
        try:
            got = self.read(key)
        except DataError:
            if not discard_broken:
                raise
            got = None
        old, coverage = got if got is not None else (None, [])
        if len(new):
            new = normalise(new, source=f"{key.source} {key.symbol} {key.timeframe.value}")
            lo, hi = fetched
            ts = index_ns(new)
            if ((ts < lo) | (ts >= hi)).any():
                raise DataError(f"{key.source}: bars outside the fetched range {_fmt(fetched)}")
        parts = []
        if old is not None and len(old):
            ts = index_ns(old)
            parts.append(old[(ts < fetched[0]) | (ts >= fetched[1])])
        if len(new):
            parts.append(new)
        frame = pd.concat(parts).sort_index() if parts else empty_bars()
        coverage = merge_intervals([*coverage, covered])
        self._write(key, frame, coverage)
        return frame

    def _write(self, key: CacheKey, frame: pd.DataFrame, coverage: list[Interval]) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        out = frame.copy()
        if "symbol" in out.columns:
            out["symbol"] = out["symbol"].astype("category")
        table = pa.Table.from_pandas(out, preserve_index=True)
        meta = dict(table.schema.metadata or {})
        meta[_META_COVERAGE] = json.dumps(coverage).encode()
        meta[_META_VERSION] = _VERSION
        meta[_META_KEY] = json.dumps([key.source, key.symbol, key.timeframe.value]).encode()
        table = table.replace_schema_metadata(meta)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with tmp.open("wb") as fh:
                pq.write_table(table, fh, compression="zstd")  # type: ignore[no-untyped-call]
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    # --- the usual entry point ------------------------------------------------------------------

    def get(
        self,
        key: CacheKey,
        start: pd.Timestamp,
        end: pd.Timestamp,
        fetch: Fetcher,
        *,
        refresh: bool = False,
    ) -> pd.DataFrame:
        """Bars with open in [start, end): from disk where covered, fetching only the rest.

        `fetch(missing)` yields `Piece`s; each is stored as soon as it arrives. With
        `refresh`, the whole range counts as missing.
        """
        lo, hi = to_ns(start), to_ns(end)
        if hi <= lo:
            raise DataError(f"empty range: start {start} is not before end {end}")
        got = None if refresh else self.read(key)
        missing = [(lo, hi)] if got is None else subtract_intervals((lo, hi), got[1])
        frame = got[0] if got is not None else empty_bars()
        for piece in fetch(missing) if missing else ():
            frame = self.store(key, piece.bars, piece.fetched, piece.covered, discard_broken=refresh)
        return _slice(frame, lo, hi)

    def entries(self) -> Iterator[CacheEntry]:
        """Every cache file, for listings; a file that cannot be read raises `DataError` naming it."""
        for path in sorted(self.root.glob("*/*/*.parquet")):
            try:
                meta = pq.ParquetFile(path).schema_arrow.metadata or {}  # type: ignore[no-untyped-call]
                source, symbol, tf = json.loads(meta[_META_KEY])
                key = CacheKey(str(source), str(symbol), Timeframe(tf))
            except (OSError, pa.ArrowException, KeyError, ValueError, TypeError):
                raise DataError(f"cache file {path} is unreadable; delete it or fetch again with --refresh") from None
            got = self.read(key)
            if got is None:
                continue
            frame, coverage = got
            yield CacheEntry(
                key=key,
                path=path,
                rows=len(frame),
                first=frame.index[0] if len(frame) else None,
                last=frame.index[-1] if len(frame) else None,
                coverage=tuple(coverage),
                size_bytes=path.stat().st_size,
            )


def _slice(frame: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    if len(frame) == 0:
        return frame
    ts = index_ns(frame)
    return frame.iloc[int(ts.searchsorted(lo, "left")) : int(ts.searchsorted(hi, "left"))]


def _fmt(interval: Interval) -> str:
    a, b = (pd.Timestamp(x, unit="ns", tz="UTC") for x in interval)
    return f"[{a}, {b})"
