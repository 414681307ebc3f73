"""`write_csv` writes what `DataFrame.to_csv(index=False)` writes, byte for byte, on its fast path or not;
`write_parquet` what `DataFrame.to_parquet(index=False)` writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from mesdesk.engine.journal import csv_columns, write_csv, write_parquet


def _floats(n: int) -> np.ndarray:
    """Random bit patterns (subnormals, huge, tiny, NaN payloads) and the values around repr's switch points."""
    rng = np.random.default_rng(3)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e16, 9999999999999998.0, 1e15, 1e-4, 9.99e-5, 5e-324, 4011.75, 1.0]
    bits = rng.integers(-(2**63), 2**63 - 1, n // 2, dtype=np.int64).view(np.float64)
    scaled = rng.normal(0, 1, n // 2) * 10.0 ** rng.integers(-20, 20, n // 2)
    return np.concatenate([edges, bits, scaled])[:n]


def _journal_like(n: int = 600, special: str = "") -> pd.DataFrame:
    """Every column kind a journal or a trade list holds, with missing values (and text holding `special`)."""
    rng = np.random.default_rng(4)
    ts = pd.date_range("2025-03-09 06:00", periods=n, freq="30s", tz="UTC")
    with_nat = pd.Series(ts).where(rng.random(n) > 0.3)
    days = pd.Series(ts.tz_localize(None).normalize().as_unit("ms")).where(rng.random(n) > 0.2)
    text = np.array(["rth_a", "", "é", "below prefilter", f"a{special}b"], dtype=object)
    words = pd.Series(text[rng.integers(0, len(text), n)], dtype="str").where(rng.random(n) > 0.2)
    objects = np.array([None, "llm", 1.5, np.nan, 7, np.float64(0.1), np.float32(0.1), True], dtype=object)
    mixed = objects[rng.integers(0, len(objects), n)]
    return pd.DataFrame(
        {
            "ts": ts,
            "trading_day": days,
            "entry_ts": with_nat,
            "ts_zoneinfo": ts.tz_convert(ZoneInfo("UTC")),
            "ts_stdlib": ts.tz_convert(dt.UTC),
            "pnl_pts": _floats(n),
            "bar_index": rng.integers(-(2**40), 2**40, n),
            "ambiguous": rng.random(n) > 0.5,
            "session_label": words,
            "fallback": mixed,
        }
    )


def _pandas_bytes(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    return (tmp_path / "pandas.csv").read_bytes()


def _ours_bytes(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    write_csv(frame, tmp_path / "ours.csv")
    return (tmp_path / "ours.csv").read_bytes()


@pytest.mark.parametrize("special", ["", ",", '"', "\n", "\r"], ids=["joined", "comma", "quote", "lf", "cr"])
def test_the_fast_path_writes_the_same_bytes_as_pandas(special: str, tmp_path: Path) -> None:
    frame = _journal_like(special=special)
    assert csv_columns(frame) is not None  # every column here is formatted by write_csv itself
    assert _ours_bytes(frame, tmp_path) == _pandas_bytes(frame, tmp_path)


def test_a_single_column_with_empty_cells_is_quoted_as_pandas_does(tmp_path: Path) -> None:
    frame = pd.DataFrame({"reason": pd.Series(["", "x", None], dtype="str")})
    assert _ours_bytes(frame, tmp_path) == _pandas_bytes(frame, tmp_path) == b'reason\n""\nx\n""\n'


def test_an_empty_journal_is_its_header_line(tmp_path: Path) -> None:
    frame = _journal_like().iloc[:0]
    assert csv_columns(frame) is not None
    assert (
        _ours_bytes(frame, tmp_path)
        == _pandas_bytes(frame, tmp_path)
        == b",".join(c.encode() for c in frame.columns) + b"\n"
    )


def test_a_float_is_written_as_numpy_writes_it() -> None:
    values = _floats(200_000)
    cells = csv_columns(pd.DataFrame({"x": values}))
    assert cells is not None
    expected = np.where(np.isnan(values), "", values.astype(str)).tolist()
    assert cells[0] == expected


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(pd.to_datetime([0, 1_500_000_000_000_000_001], utc=True)),  # a nanosecond: pandas shows fractions
        pd.Series(pd.date_range("2025-03-09 06:00", periods=3, freq="h", tz="America/Chicago")),
        pd.Series(pd.date_range("2025-03-09 06:00", periods=3, freq="h")),  # naive, not midnights
        pd.Series(pd.to_datetime([None, None]).as_unit("ns")),
        pd.Series(np.array([1.1, np.nan], dtype=np.float32)),
        pd.Series(["a", "b"], dtype="category"),
        pd.Series([1, None], dtype="Int64"),
        pd.Series(pd.to_timedelta([1, 2], unit="s")),
    ],
)
def test_other_columns_are_left_to_pandas(column: pd.Series, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": column, "y": 1.5})
    assert csv_columns(frame) is None
    assert _ours_bytes(frame, tmp_path) == _pandas_bytes(frame, tmp_path)


def _dictionary_columns(path: Path) -> set[str]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    if meta.num_row_groups == 0:
        return set()
    group = meta.row_group(0)
    return {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if any("DICTIONARY" in e for e in group.column(i).encodings)
    }


@pytest.mark.parametrize("rows", [600, 1, 0])
def test_parquet_reads_back_as_pandas_own_file_does(rows: int, tmp_path: Path) -> None:
    frame = _journal_like().drop(columns="fallback").iloc[:rows]  # pyarrow refuses mixed objects either way
    frame["setup"] = pd.Series(np.array(["orb", "ema", "vwap"], dtype=object)[np.arange(rows) % 3], dtype="str")
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    write_parquet(frame, tmp_path / "ours.parquet")
    theirs, ours = pd.read_parquet(tmp_path / "pandas.parquet"), pd.read_parquet(tmp_path / "ours.parquet")
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    pd.testing.assert_frame_equal(ours, frame.reset_index(drop=True), check_exact=True)
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "ours.parquet").equals(
        pq.read_schema(tmp_path / "pandas.parquet"), check_metadata=True
    )


def test_only_text_of_few_values_gets_dictionary_pages(tmp_path: Path) -> None:
    frame = _journal_like(600).drop(columns="fallback")
    frame["setup"] = pd.Series(np.array(["orb", "ema", "vwap"], dtype=object)[np.arange(600) % 3], dtype="str")
    frame["unique_text"] = pd.Series([f"row {i}" for i in range(600)], dtype="str")
    write_parquet(frame, tmp_path / "ours.parquet")
    assert _dictionary_columns(tmp_path / "ours.parquet") == {"setup", "session_label"}
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    assert "pnl_pts" in _dictionary_columns(tmp_path / "pandas.parquet")  # what pandas would have done
    assert (tmp_path / "ours.parquet").stat().st_size < (tmp_path / "pandas.parquet").stat().st_size


def test_parquet_keeps_a_frames_attrs_as_pandas_does(tmp_path: Path) -> None:
    frame = _journal_like(50).drop(columns="fallback")
    frame.attrs = {"source": "test", "days": [1, 2]}
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    write_parquet(frame, tmp_path / "ours.parquet")
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "ours.parquet").equals(
        pq.read_schema(tmp_path / "pandas.parquet"), check_metadata=True
    )
    assert pd.read_parquet(tmp_path / "ours.parquet").attrs == {"source": "test", "days": [1, 2]}


def test_a_column_parquet_cannot_hold_fails_as_it_does_in_pandas(tmp_path: Path) -> None:
    import pyarrow as pa

    frame = _journal_like(50)  # `fallback` mixes text and numbers
    with pytest.raises(pa.ArrowInvalid, match="fallback"):
        frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    with pytest.raises(pa.ArrowInvalid, match="fallback"):
        write_parquet(frame, tmp_path / "ours.parquet")
