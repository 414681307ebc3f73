"""The CSV/Parquet loader: flexible layouts, zones, and a clear DataError for each broken file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.bars import BAR_COLUMNS, DataWarning, validate_bars
from mesdesk.data.files import FileSource, infer_span, load_bars, placeholder_mask
from mesdesk.errors import ConfigError, DataError
from mesdesk.timeframes import Timeframe

HEADER = "ts,open,high,low,close,volume\n"
GOOD_ROWS = [
    "2025-10-01T08:30:00-05:00,6700.00,6701.00,6699.50,6700.50,120",
    "2025-10-01T08:31:00-05:00,6700.50,6702.25,6700.25,6702.00,95",
    "2025-10-01T08:32:00-05:00,6702.00,6702.50,6700.75,6701.00,80",
]


def write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def test_csv_with_offsets_loads_in_utc(tmp_path: Path) -> None:
    bars = load_bars(write(tmp_path, GOOD_ROWS))
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert bars.index[0] == pd.Timestamp("2025-10-01 13:30", tz="UTC")
    assert bars.index.name == "ts"
    assert bars["volume"].dtype == np.int64
    assert bars["close"].tolist() == [6700.50, 6702.00, 6701.00]


def test_column_names_in_any_case_and_aliases(tmp_path: Path) -> None:
    rows = [r.replace("-05:00", "Z") for r in GOOD_ROWS]
    bars = load_bars(write(tmp_path, rows, header=" Timestamp ,O,HIGH,Low,Close,Vol\n"))
    assert bars.index[0] == pd.Timestamp("2025-10-01 08:30", tz="UTC")
    assert len(bars) == 3


def test_naive_timestamps_take_the_zone_given(tmp_path: Path) -> None:
    rows = [r.replace("-05:00", "") for r in GOOD_ROWS]
    bars = load_bars(write(tmp_path, rows, header="DateTime,open,high,low,close,volume\n"), tz="America/Chicago")
    assert bars.index[0] == pd.Timestamp("2025-10-01 13:30", tz="UTC")  # CDT = UTC-5


def test_separate_date_and_time_columns(tmp_path: Path) -> None:
    rows = ["2025-10-01,08:30:00,6700,6701,6699.5,6700.5,10", "2025-10-01,08:31:00,6700.5,6701,6700,6701,12"]
    bars = load_bars(write(tmp_path, rows, header="date,time,open,high,low,close,volume\n"), tz="America/New_York")
    assert bars.index[1] == pd.Timestamp("2025-10-01 12:31", tz="UTC")  # EDT = UTC-4


def test_naive_timestamps_without_zone_are_refused_with_row(tmp_path: Path) -> None:
    rows = [r.replace("-05:00", "") for r in GOOD_ROWS]
    path = write(tmp_path, rows)
    with pytest.raises(DataError, match=r"bars\.csv: row 2: naive timestamp '2025-10-01T08:30:00'"):
        load_bars(path)


def test_dst_ambiguous_wall_time_is_refused(tmp_path: Path) -> None:
    rows = ["2025-11-02 01:30:00,6700,6701,6699.5,6700.5,10"]
    with pytest.raises(DataError, match="row 2: wall time '2025-11-02 01:30:00' is ambiguous"):
        load_bars(write(tmp_path, rows), tz="America/Chicago")


def test_unsorted_rows_are_sorted_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD_ROWS[2], GOOD_ROWS[0], GOOD_ROWS[1]])
    with pytest.warns(DataWarning, match="sorted"):
        bars = load_bars(path)
    assert bars.index.is_monotonic_increasing
    assert bars["close"].tolist() == [6700.50, 6702.00, 6701.00]


@pytest.mark.parametrize(
    ("bad_row", "line", "message"),
    [
        ("2025-10-01T08:31:00-05:00,6700,6701,6699.5,6700.5,10", "3, 4", "duplicate timestamp"),
        ("2025-10-01T08:33:00-05:00,6700,6699,6701,6700,10", "4", "high 6699 < low 6701"),
        ("2025-10-01T08:33:00-05:00,6700,NaN,6699,6700,10", "4", "high is not a finite price"),
        ("2025-10-01T08:33:00-05:00,6700,,6699,6700,10", "4", "high is not a finite price"),
        ("2025-10-01T08:33:00-05:00,6700,6701,6699,6700,-5", "4", "negative volume -5"),
        ("2025-10-01T08:33:00-05:00,6700,6701,6699,6702,5", "4", "open/close outside high-low"),
        ("yesterday-ish,6700,6701,6699,6700,5", "4", "cannot read timestamp 'yesterday-ish'"),
    ],
)
def test_broken_rows_name_file_row_and_value(tmp_path: Path, bad_row: str, line: str, message: str) -> None:
    path = write(tmp_path, [GOOD_ROWS[0], GOOD_ROWS[1], bad_row])
    with pytest.raises(DataError) as err:
        load_bars(path)
    text = str(err.value)
    assert str(path) in text
    assert message in text
    assert f"row {line}" in text or f"rows {line}" in text


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, ["2025-10-01T08:30:00Z,1,2,0.5,1"], header="ts,open,high,low,close\n")
    with pytest.raises(DataError, match=r"bars\.csv: missing column\(s\) volume"):
        load_bars(path)


def test_missing_time_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, ["1,2,0.5,1,3"], header="open,high,low,close,volume\n")
    with pytest.raises(DataError, match="no time column"):
        load_bars(path)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: empty file"):
        load_bars(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER)
    with pytest.raises(DataError, match=r"header\.csv: no bars"):
        load_bars(header_only)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_bars(tmp_path / "nope.csv")
    odd = tmp_path / "bars.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        load_bars(odd)


def test_bad_zone_argument_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tz='Mars/Base'"):
        load_bars(write(tmp_path, GOOD_ROWS), tz="Mars/Base")


def test_parquet_aware_naive_and_epoch(tmp_path: Path) -> None:
    idx = pd.date_range("2025-10-01 13:30", periods=3, freq="1min", tz="UTC").as_unit("ns")
    frame = pd.DataFrame(
        {"open": [1.0, 2.0, 3.0], "high": [2.0, 3.0, 4.0], "low": [0.5, 1.5, 2.5], "close": [1.5, 2.5, 3.5]},
        index=idx,
    )
    frame["volume"] = [1, 2, 3]
    aware = tmp_path / "aware.parquet"
    frame.rename_axis("timestamp").reset_index().to_parquet(aware)
    assert load_bars(aware).index.equals(idx.rename("ts").as_unit("ns"))

    naive = tmp_path / "naive.parquet"
    frame.assign(ts=idx.tz_convert("America/Chicago").tz_localize(None)).reset_index(drop=True).to_parquet(naive)
    with pytest.raises(DataError, match=r"naive\.parquet: row 1: naive timestamps"):
        load_bars(naive)
    assert load_bars(naive, tz="America/Chicago").index.equals(idx.rename("ts").as_unit("ns"))

    epoch = tmp_path / "epoch.parquet"
    frame.assign(ts=idx.as_unit("ns").asi8 // 10**9).reset_index(drop=True).to_parquet(epoch)
    assert load_bars(epoch).index[0] == idx[0]

    broken = tmp_path / "broken.parquet"
    frame.assign(ts=idx, high=[2.0, 1.0, 4.0]).reset_index(drop=True).to_parquet(broken)
    with pytest.raises(DataError, match=r"broken\.parquet: row 2: high 1 < low 1\.5"):
        load_bars(broken)


def test_placeholders_keep_drop_flag(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS, "2025-10-01T08:33:00-05:00,6701,6701,6701,6701,1"]
    path = write(tmp_path, rows)
    assert len(load_bars(path)) == 4
    assert len(load_bars(path, placeholders="drop")) == 3
    flagged = load_bars(path, placeholders="flag")
    assert flagged["placeholder"].tolist() == [False, False, False, True]
    with pytest.raises(ConfigError, match="placeholders"):
        load_bars(path, placeholders="hide")  # type: ignore[arg-type]


def test_file_source_slices_and_resamples(tmp_path: Path) -> None:
    start = pd.Timestamp("2025-10-01 13:30", tz="UTC")
    idx = pd.date_range(start, periods=30, freq="1min")
    closes = 6700 + np.arange(30) * 0.25
    rows = [
        f"{t.isoformat()},{c},{c + 0.5},{c - 0.5},{c},{i + 1}" for i, (t, c) in enumerate(zip(idx, closes, strict=True))
    ]
    source = FileSource(write(tmp_path, rows), symbol="MES")
    assert source.name == "file:bars.csv"
    one = source.bars(
        "MES", Timeframe.M1, datetime(2025, 10, 1, 13, 35, tzinfo=UTC), datetime(2025, 10, 1, 13, 40, tzinfo=UTC)
    )
    assert len(one) == 5
    five = source.bars("mes", Timeframe.M5, start.to_pydatetime(), datetime(2025, 10, 2, tzinfo=UTC))
    assert len(five) == 6
    assert five["volume"].iloc[0] == 1 + 2 + 3 + 4 + 5
    assert five["close"].iloc[0] == closes[4]
    with pytest.raises(ConfigError, match="holds MES"):
        source.bars("ES", Timeframe.M1, start.to_pydatetime(), datetime(2025, 10, 2, tzinfo=UTC))
    with pytest.raises(ConfigError, match="cannot go finer"):
        source.bars("MES", Timeframe.S1, start.to_pydatetime(), datetime(2025, 10, 2, tzinfo=UTC))


def test_real_es_1m_file_loads(shared_data: Path) -> None:
    path = shared_data / "ES_1m_2025-09-15_2025-10-10.csv"
    bars = load_bars(path, placeholders="flag")
    assert len(bars) == 27_603
    assert int(bars["placeholder"].sum()) == 57  # as the data README says
    assert infer_span(bars) == pd.Timedelta(minutes=1)
    assert bars.index[0] == pd.Timestamp("2025-09-14 22:00", tz="UTC")  # 17:00 CT Sunday
    assert np.allclose(np.mod(bars[["open", "high", "low", "close"]].to_numpy(), 0.25), 0.0)
    assert len(load_bars(path, placeholders="drop")) == 27_603 - 57
    assert int(placeholder_mask(bars).sum()) == 57


def test_real_es_5m_file_loads_and_matches_its_utc_column(shared_data: Path) -> None:
    path = shared_data / "ES_5m_2026-02-17_2026-04-28.csv"
    bars = load_bars(path)
    assert len(bars) == 13_768
    assert int(placeholder_mask(bars).sum()) == 44
    raw = pd.read_csv(path)
    by_et = pd.to_datetime(raw["ts_et"], utc=True, format="ISO8601")
    assert (pd.DatetimeIndex(by_et) == bars.index).all()


def test_csv_with_byte_order_mark_keeps_its_utc_zone(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    rows = "2025-10-01T13:30:00Z,1,2,0.5,1.5,3\n2025-10-01T13:31:00Z,1,2,0.5,1.5,3\n"
    path.write_bytes(b"\xef\xbb\xbf" + ("Timestamp,Open,High,Low,Close,Volume\n" + rows).encode())
    bars = load_bars(path)
    assert bars.index[0] == pd.Timestamp("2025-10-01 13:30", tz="UTC")


@pytest.mark.parametrize(
    ("cell", "field", "why"),
    [
        ("-6700.00", "open", "not a positive price"),
        ("0", "open", "not a positive price"),
        ("1e300", "open", "outside the plausible"),
        ("inf", "open", "not a finite price"),
    ],
)
def test_impossible_prices_are_refused_naming_file_row_and_field(
    tmp_path: Path, cell: str, field: str, why: str
) -> None:
    rows = [*GOOD_ROWS]
    rows[1] = f"2025-10-01T08:31:00-05:00,{cell},6702.25,6700.25,6702.00,95"
    path = write(tmp_path, rows)
    with pytest.raises(DataError, match=rf"bars\.csv: row 3: {field} .*{why}"):
        load_bars(path)


def test_the_price_band_can_be_overridden_for_another_instrument(tmp_path: Path) -> None:
    rows = [f"2025-10-01T08:3{i}:00-05:00,150000,150001,149999,150000,5" for i in range(3)]
    path = write(tmp_path, rows)
    with pytest.raises(DataError, match="outside the plausible 0.25-100000"):
        load_bars(path)
    assert load_bars(path, price_band=None)["close"].iloc[0] == 150000.0


def test_fractional_contracts_are_refused_not_truncated(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS]
    rows[2] = "2025-10-01T08:32:00-05:00,6702.00,6702.50,6700.75,6701.00,80.5"
    with pytest.raises(DataError, match=r"bars\.csv: row 4: volume 80.5 is not a whole number of contracts"):
        load_bars(write(tmp_path, rows))


def test_import_refuses_absurd_prices_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, finding 5: `mesdesk data import` said "data problems: none" for 1e300 and replaced the cache."""
    from mesdesk.cli import main

    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path / "data"))
    rows = [f"2025-10-01T08:3{i}:00-05:00,150000,150001,149999,150000,5" for i in range(3)]
    path = write(tmp_path, rows, name="other.csv")
    with pytest.raises(SystemExit) as done:
        main(["data", "import", str(path)])
    assert done.value.code == 2
    assert "other.csv: rows 2, 3, 4: open 150000 is outside the plausible" in capsys.readouterr().err
    main(["data", "import", str(path), "--any-price"])
    assert "other" in capsys.readouterr().out


def test_numbers_and_their_text_validate_to_the_same_bars() -> None:
    """Numeric columns skip the text parse; the result must be what parsing their text gives."""
    idx = pd.date_range("2025-10-01 13:30", periods=4, freq="1min", tz="UTC", name="ts").as_unit("ns")
    numbers = pd.DataFrame(
        {
            "open": np.array([6700.0, 6700.5, 6702.0, 6701.0], dtype=np.float32),
            "high": [6701.0, 6702.25, 6702.5, 6701.25],
            "low": np.array([6699, 6700, 6700, 6700], dtype=np.int32),
            "close": [6700.5, 6702.0, 6701.0, 6701.0],
            "volume": np.array([120, 95, 0, 7], dtype=np.int16),
        },
        index=idx,
    )
    text = numbers.astype(str).astype(object)
    checked = validate_bars(numbers, whole_volume=True)
    assert checked.dtypes.tolist() == ["float64"] * 4 + ["int64"]
    pd.testing.assert_frame_equal(checked, validate_bars(text, whole_volume=True))
    with pytest.raises(DataError, match=r"row 3: negative volume -2$"):
        validate_bars(numbers.assign(volume=np.array([1, 1, -2, 1], dtype=np.int64)))
