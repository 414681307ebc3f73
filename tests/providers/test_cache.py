"""The Parquet bar cache: coverage, partial fetches, validation on read, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import make_bars
from mesdesk.data import cache as cache_mod
from mesdesk.data.cache import BarCache, CacheKey, Interval, Piece, merge_intervals, subtract_intervals
from mesdesk.errors import DataError
from mesdesk.timeframes import Timeframe

KEY = CacheKey("test", "MES.c.0", Timeframe.M1)


def T(text: str) -> pd.Timestamp:  # noqa: N802
    return pd.Timestamp(text, tz="UTC")


class Recorder:
    """A fetcher that serves minutes from a fixed frame and records what was asked."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.asked: list[Interval] = []

    def __call__(self, missing: list[Interval]):
        for a, b in missing:
            self.asked.append((a, b))
            ts = self.frame.index.asi8
            yield Piece(self.frame[(ts >= a) & (ts < b)], (a, b), (a, b))


def _day() -> pd.DataFrame:
    return make_bars("2025-03-10 14:00", [5700.0 + i * 0.25 for i in range(120)])


def test_interval_arithmetic() -> None:
    assert merge_intervals([(5, 7), (1, 3), (3, 4), (6, 9)]) == [(1, 4), (5, 9)]
    assert subtract_intervals((0, 10), [(2, 4), (6, 8)]) == [(0, 2), (4, 6), (8, 10)]
    assert subtract_intervals((3, 7), [(0, 10)]) == []
    assert subtract_intervals((0, 10), []) == [(0, 10)]


def test_repeat_is_served_from_disk_and_overlap_fetches_only_the_gap(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    fetch = Recorder(_day())
    first = cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), fetch)
    assert len(first) == 60
    again = cache.get(KEY, T("2025-03-10 14:10"), T("2025-03-10 14:50"), fetch)
    assert len(fetch.asked) == 1
    pd.testing.assert_frame_equal(again, first.iloc[10:50], check_freq=False)
    both = cache.get(KEY, T("2025-03-10 14:30"), T("2025-03-10 16:00"), fetch)
    assert fetch.asked[1] == (T("2025-03-10 15:00").value, T("2025-03-10 16:00").value)
    assert len(both) == 90
    pd.testing.assert_frame_equal(both, _day().iloc[30:120], check_freq=False)


def test_refresh_fetches_again_and_keeps_bars_outside_the_range(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 16:00"), Recorder(_day()))
    revised = _day()
    revised.loc[:, ["open", "high", "low", "close"]] += 1.0
    fetch = Recorder(revised)
    cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 14:30"), fetch, refresh=True)
    assert len(fetch.asked) == 1
    frame, coverage = cache.read(KEY)
    assert len(frame) == 120
    assert frame["close"].iloc[0] == _day()["close"].iloc[0] + 1.0
    assert frame["close"].iloc[60] == _day()["close"].iloc[60]
    assert coverage == [(T("2025-03-10 14:00").value, T("2025-03-10 16:00").value)]


def test_a_failed_write_leaves_the_cached_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = BarCache(tmp_path)
    cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()))
    before = cache.path(KEY).read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 16:00"), Recorder(_day()))
    assert cache.path(KEY).read_bytes() == before
    assert [p.name for p in cache.path(KEY).parent.iterdir()] == ["1m.parquet"]  # no temp file left


def test_a_fetch_failing_midway_keeps_the_pieces_already_stored(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    day = _day()

    def flaky(missing: list[Interval]):
        a, b = missing[0]
        mid = (a + b) // 2
        ts = day.index.asi8
        yield Piece(day[(ts >= a) & (ts < mid)], (a, mid), (a, mid))
        raise DataError("provider went away")

    with pytest.raises(DataError, match="went away"):
        cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 16:00"), flaky)
    frame, coverage = cache.read(KEY)
    assert len(frame) == 60
    assert coverage == [(T("2025-03-10 14:00").value, T("2025-03-10 15:00").value)]


def test_corrupt_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()))
    cache.path(KEY).write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"1m.parquet is unreadable.*--refresh"):
        cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()))
    # refresh replaces the broken file
    frame = cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()), refresh=True)
    assert len(frame) == 60


def test_cached_bars_are_validated_on_read(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()))
    table = pq.ParquetFile(cache.path(KEY)).read()
    frame = table.to_pandas()
    frame.iloc[5, frame.columns.get_loc("high")] = 1.0  # high below low
    import pyarrow as pa

    broken = pa.Table.from_pandas(frame, preserve_index=True).replace_schema_metadata(table.schema.metadata)
    pq.write_table(broken, cache.path(KEY))
    with pytest.raises(DataError, match=r"1m.parquet: row 6: high 1 < low"):
        cache.get(KEY, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()))


def test_entries_list_what_is_cached(tmp_path: Path) -> None:
    cache = BarCache(tmp_path)
    key = CacheKey("yahoo", "MES=F", Timeframe.M1)
    cache.get(key, T("2025-03-10 14:00"), T("2025-03-10 15:00"), Recorder(_day()))
    (entry,) = cache.entries()
    assert entry.key == key
    assert entry.rows == 60
    assert entry.first == T("2025-03-10 14:00")
    assert entry.last == T("2025-03-10 14:59")
