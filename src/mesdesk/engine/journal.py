"""Journal (one row per candidate, taken or not) and trades (one row per fill): columns and writers.

"Why no trade" is always answerable from a journal row: the prefilter, the decision with its source,
and the gate's reason.
"""

from __future__ import annotations

from pathlib import Path

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
    # Only the columns a trade shows are filtered (the journal also carries every candidate feature).
    wanted = [c for c in (*TRADE_COLUMNS, "session_label") if c in journal.columns]
    filled = journal.loc[journal["entry_ts"].notna().to_numpy(), wanted]
    own = {
        "result": trade_result(filled["pnl_pts"].to_numpy(), filled["exit_reason"].to_numpy()),
        "session": filled["session_label"].to_numpy() if "session_label" in filled else "",
    }
    columns = {col: own[col] if col in own else filled[col].array for col in TRADE_COLUMNS}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(filled)))


def write_journal(
    journal: pd.DataFrame, folder: Path, formats: tuple[str, ...] = ("parquet", "csv")
) -> tuple[Path, ...]:
    """Write journal.parquet and/or journal.csv into `folder`; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "parquet" in formats:
        written.append(folder / "journal.parquet")
        journal.to_parquet(written[-1], index=False)
    if "csv" in formats:
        written.append(folder / "journal.csv")
        journal.to_csv(written[-1], index=False)
    return tuple(written)
