"""Journal (one row per candidate, taken or not) and trades (one row per fill): columns and writers.

"Why no trade" is always answerable from a journal row: the prefilter, the decision with its source,
and the gate's reason.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

JOURNAL_COLUMNS: tuple[str, ...] = (
    "ts",
    "trading_day",
    "setup",
    "direction",
    "ref_entry",
    "prefilter_score",
    "passed_prefilter",
    "decision_ts",
    "decision",
    "decision_source",
    "fallback",
    "confidence",
    "reason",
    "gate",
    "entry_ts",
    "entry_price",
    "exit_ts",
    "exit_price",
    "exit_reason",
    "pnl_pts",
    "gross_pts",
    "commission_pts",
    "time_to_target",
    "mae",
    "mfe",
    "ambiguous",
    "counterfactual",
)

TRADE_COLUMNS: tuple[str, ...] = (
    "result",
    "prefilter_score",
    "confidence",
    "setup",
    "session",
    "entry_price",
    "exit_price",
    "pnl_pts",
    "time_to_target",
    "mae",
    "mfe",
    "ts",
    "trading_day",
    "direction",
    "entry_ts",
    "exit_ts",
    "exit_reason",
    "gross_pts",
    "commission_pts",
    "ambiguous",
)

# Candidate-frame columns renamed or consumed by the journal's own columns.
CANDIDATE_RENAMES = {"setup_type": "setup"}


_FLOAT_COLS = (
    "confidence",
    "entry_price",
    "exit_price",
    "pnl_pts",
    "gross_pts",
    "commission_pts",
    "time_to_target",
    "mae",
    "mfe",
)


def blank_columns(passed: np.ndarray) -> dict[str, np.ndarray]:
    """The engine's own journal columns for `len(passed)` candidates before any was handled.

    Entry and exit times are int64 ns (-1: none) under ``entry_ts_ns`` / ``exit_ts_ns``.
    """
    n = len(passed)
    cols: dict[str, np.ndarray] = {
        "decision": np.full(n, "not_asked", dtype=object),
        "decision_source": np.full(n, "", dtype=object),
        "fallback": np.full(n, None, dtype=object),
        "reason": np.full(n, "", dtype=object),
        "gate": np.where(passed, "", "below prefilter").astype(object),
        "exit_reason": np.full(n, None, dtype=object),
        "ambiguous": np.zeros(n, dtype=bool),
        "entry_ts_ns": np.full(n, -1, dtype=np.int64),
        "exit_ts_ns": np.full(n, -1, dtype=np.int64),
    }
    for c in _FLOAT_COLS:
        cols[c] = np.full(n, math.nan)
    return cols


def assemble_journal(
    base: pd.DataFrame, passed: np.ndarray, decision_ns: np.ndarray, cols: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The journal: the engine's columns (`blank_columns`, filled in) in journal order, then the candidate's.

    `base` holds the first ``len(passed)`` candidate rows (index reset), `decision_ns` their decision times.
    """
    entry_ns = cols.pop("entry_ts_ns")
    exit_ns = cols.pop("exit_ts_ns")
    own: dict[str, Any] = {
        "ts": base["ts"],
        "trading_day": base.get("trading_day", pd.NaT),
        "setup": base["setup_type"].astype(str),
        "direction": base["direction"].astype(str),
        "ref_entry": base["ref_entry"].astype(float),
        "prefilter_score": base["prefilter_score"].astype(float),
        "passed_prefilter": passed,
        "decision_ts": pd.to_datetime(decision_ns, unit="ns", utc=True),
        **cols,
        "entry_ts": pd.to_datetime(np.where(entry_ns >= 0, entry_ns, np.iinfo(np.int64).min), unit="ns", utc=True),
        "exit_ts": pd.to_datetime(np.where(exit_ns >= 0, exit_ns, np.iinfo(np.int64).min), unit="ns", utc=True),
        "counterfactual": False,
    }
    # One constructor in journal order (column-by-column inserts cost more than the rest together).
    out = pd.DataFrame({name: own[name] for name in JOURNAL_COLUMNS}, index=base.index)
    rest = [c for c in base.columns if c not in out.columns and c != "setup_type"]
    return pd.concat([out, base.loc[:, rest]], axis=1)


def result_of(pnl_pts: float, exit_reason: str) -> str:
    """The result of one trade, by the same rule as `trade_result`."""
    if exit_reason == "open":
        return "open"
    if pnl_pts > 1e-9:
        return "win"
    if pnl_pts < -1e-9 and exit_reason != "be":
        return "loss"
    return "scratch"


def trade_result(pnl_pts: np.ndarray, exit_reason: np.ndarray) -> np.ndarray:
    """win (net > 0), loss (net < 0 and not a breakeven exit), scratch (breakeven exit or net 0), open."""
    pnl = np.asarray(pnl_pts, dtype=np.float64)
    reason = np.asarray(exit_reason, dtype=object)
    result = np.where(pnl > 1e-9, "win", np.where(pnl < -1e-9, "loss", "scratch")).astype(object)
    result[(reason == "be") & (result == "loss")] = "scratch"
    result[reason == "open"] = "open"
    return result


def trades_from_journal(journal: pd.DataFrame) -> pd.DataFrame:
    """The filled trades of a journal in the seed's /metrics/trades shape (plus context columns)."""
    # Only the columns a trade shows are taken, each on its own (the journal also carries every candidate
    # feature, and selecting rows of the whole frame first costs more than the rest together).
    rows = np.flatnonzero(journal["entry_ts"].notna().to_numpy())

    def taken(col: str) -> Any:
        return journal[col].array.take(rows)

    own = {
        "result": trade_result(taken("pnl_pts").to_numpy(), taken("exit_reason").to_numpy()),
        "session": taken("session_label").to_numpy() if "session_label" in journal.columns else "",
    }
    columns = {col: own[col] if col in own else taken(col) for col in TRADE_COLUMNS}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


def write_journal(
    journal: pd.DataFrame, folder: Path, formats: tuple[str, ...] = ("parquet", "csv")
) -> tuple[Path, ...]:
    """Write journal.parquet and/or journal.csv into `folder`; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "parquet" in formats:
        written.append(folder / "journal.parquet")
        write_parquet(journal, written[-1])
    if "csv" in formats:
        written.append(folder / "journal.csv")
        write_csv(journal, written[-1])
    return tuple(written)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as ``frame.to_parquet(path, index=False)`` does, with dictionary pages only for text
    columns of few values: `pd.read_parquet` gives the same frame (dtypes, `attrs`) back.

    pandas lets pyarrow dictionary-encode every column; on a journal (a few thousand rows, most numbers
    distinct) that is two thirds of the write and makes the file larger. Here only text columns holding
    at most half as many distinct values as rows (setup, direction, decision, gate, reason, ...) get
    dictionary pages, and the conversion runs on this thread (pyarrow's pool of threads cost more CPU
    than it saved): on the 1M-bar journal 7.6 ms against 16.6 ms, 1.38 MB against 1.55 MB. The file is
    opened as pandas opens it (`pyarrow.OSFile`), so a failed write does not delete the path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    if frame.attrs:  # where pandas keeps them, so read_parquet restores them
        attrs = {"PANDAS_ATTRS": json.dumps(frame.attrs)}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **attrs})
    text = (pa.types.is_string(f.type) or pa.types.is_large_string(f.type) for f in table.schema)
    few = [
        name
        for name, is_text in zip(table.column_names, text, strict=True)
        if is_text and 2 * pc.count_distinct(table.column(name)).as_py() <= table.num_rows
    ]
    with pa.OSFile(str(path), "wb") as sink:
        pq.write_table(table, sink, use_dictionary=few)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as ``frame.to_csv(path, index=False)`` writes it, byte for byte, in less time.

    pandas turns a float column into text with NumPy's ``astype(str)`` and a timezone-aware one with its
    datetime formatter: most of the 0.4 s it spends on a 1M-bar journal. Python's ``repr`` of a float is
    the same text (the shortest digits that read back, exponent below 1e-4 and from 1e16), and UTC times
    in whole seconds are ``YYYY-MM-DD HH:MM:SS+00:00``; every other supported column becomes the text
    `csv.writer` would make of what pandas hands it. When no cell needs quoting (no comma, quote or line
    break) the rows are joined directly, else they go through `csv.writer` with pandas' settings. A frame
    holding a column this cannot match (sub-second or non-UTC times, float32, categoricals, ...) is
    written by pandas itself.
    """
    columns = csv_columns(frame)
    if columns is None:
        frame.to_csv(path, index=False)
        return
    header = [str(name) for name in frame.columns]
    end = os.linesep
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if len(columns) > 1 and not any(_NEEDS_QUOTES.search("".join(cells)) for cells in (header, *columns)):
            # csv.writer quotes nothing else here (a lone empty field is the one other case: two columns or more)
            fh.write(",".join(header) + end)
            fh.write("".join([",".join(row) + end for row in zip(*columns, strict=True)]))
            return
        writer = csv.writer(fh, lineterminator=end)  # pandas' defaults: ',', '"', QUOTE_MINIMAL
        writer.writerow(header)
        writer.writerows(zip(*columns, strict=True))


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_columns(frame: pd.DataFrame) -> list[list[str]] | None:
    """Each column's cells as the text `DataFrame.to_csv` writes (before quoting); None if one is not matched."""
    if frame.shape[1] == 0 or not all(isinstance(name, str) for name in frame.columns):
        return None
    columns = []
    for position in range(frame.shape[1]):
        cells = _csv_cells(frame.iloc[:, position])
        if cells is None:
            return None
        columns.append(cells)
    return columns


_SECOND_NS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
# Whole seconds since 1970 of years 1000-9999: four-digit years, written alike by NumPy and pandas.
_FOUR_DIGIT_YEARS = (-30_610_224_000, 253_402_300_799)


def _csv_cells(column: pd.Series) -> list[str] | None:
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return _utc_cells(column) if str(dtype.tz) == "UTC" else None
    if isinstance(dtype, pd.StringDtype):
        kind = "O"
    elif isinstance(dtype, np.dtype):
        kind = "d" if dtype == np.float64 else dtype.kind
    else:
        return None
    if kind == "d":
        values = column.to_numpy()
        cells = list(map(repr, values.tolist()))
        for i in np.flatnonzero(np.isnan(values)).tolist():
            cells[i] = ""
        return cells
    if kind in "biu":
        return list(map(str, column.to_numpy().tolist()))  # pandas hands Python ints and bools to csv.writer
    if kind == "M":
        return _date_cells(column)
    if kind == "O":
        objects = np.asarray(column.astype(object)).copy()
        objects[np.asarray(column.isna())] = ""
        return list(map(str, objects.tolist()))  # csv.writer's text of a cell (a float's str is its repr)
    return None


def _whole_seconds(column: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Seconds since 1970 and the NaT mask, if every time is a whole second in a four-digit year."""
    ticks = np.asarray(pd.DatetimeIndex(column).asi8)
    per_second = _SECOND_NS.get(str(column.dt.unit))
    if per_second is None:
        return None
    missing = ticks == np.iinfo(np.int64).min
    present = ticks[~missing]
    if (present % per_second).any():
        return None
    seconds = present // per_second
    if seconds.size and (seconds.min() < _FOUR_DIGIT_YEARS[0] or seconds.max() > _FOUR_DIGIT_YEARS[1]):
        return None
    out = np.zeros(len(ticks), dtype=np.int64)
    out[~missing] = seconds
    return out, missing


def _utc_cells(column: pd.Series) -> list[str] | None:
    """'2025-03-10 13:30:00+00:00' (pandas' text for UTC times when none has a fraction of a second)."""
    found = _whole_seconds(column)
    if found is None:
        return None
    seconds, missing = found
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").tolist()
    cells = [f"{t[:10]} {t[11:]}+00:00" for t in text]
    for i in np.flatnonzero(missing).tolist():
        cells[i] = ""
    return cells


def _date_cells(column: pd.Series) -> list[str] | None:
    """'2025-03-10' for a naive column of midnights (pandas' text then); None for any other naive column."""
    found = _whole_seconds(column)
    if found is None:
        return None
    seconds, missing = found
    if (missing.size and missing.all()) or (seconds[~missing] % 86_400).any():  # all NaT: pandas' rule unsure
        return None
    cells: list[str] = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="D").tolist()
    for i in np.flatnonzero(missing).tolist():
        cells[i] = ""
    return cells
