"""Calibration report of a journal: reliability table, Brier score and the current threshold.

The journal comes from a file the engine wrote (journal.parquet or journal.csv) or from a table
of the store. Only rows where the decider answered itself (take/skip) carry a stated confidence;
the threshold uses real trades only. `at` (UTC) asks what was known then: outcomes resolved
strictly before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from mesdesk.decide.calibration import Calibration, CalibrationConfig, Reliability
from mesdesk.decide.local import local_outcomes_from_journal
from mesdesk.errors import ConfigError, DataError
from mesdesk.services.decisions import reliability_frame


@dataclass(frozen=True)
class CalibrationReport:
    reliability: Reliability
    table: pd.DataFrame
    origin: str
    at: datetime
    decider: str | None
    sources: tuple[str, ...]


def load_journal(path: Path) -> pd.DataFrame:
    """A journal written by the engine (Parquet or CSV); DataError naming the file when unreadable."""
    if not path.exists():
        raise ConfigError(f"--journal {path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
            for col in ("ts", "decision_ts", "entry_ts", "exit_ts"):
                if col in frame.columns:
                    frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce")
        else:
            raise ConfigError(f"--journal {path}: expected .parquet or .csv")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the journal: {exc}") from exc
    return frame


def journal_from_store(url: str, table: str = "journal") -> pd.DataFrame:
    """The journal rows kept in the store's `table`."""
    from sqlalchemy import inspect

    from mesdesk.store.base import make_engine

    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(table):
            raise ConfigError(f"the store at {engine.url.render_as_string(hide_password=True)} has no table {table!r}")
        frame = pd.read_sql_table(table, engine)
    finally:
        engine.dispose()
    for col in ("ts", "decision_ts", "entry_ts", "exit_ts"):
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce")
    return frame


def calibration_report(
    journal: pd.DataFrame,
    *,
    origin: str,
    decider: str | None = None,
    at: datetime | None = None,
    config: CalibrationConfig | None = None,
) -> CalibrationReport:
    """Calibration of `journal` (optionally only rows whose decision_source starts with `decider`)."""
    for col in ("ts", "exit_ts", "pnl_pts", "decision", "confidence"):
        if col not in journal.columns:
            raise DataError(f"{origin}: not a mesdesk journal (no column {col!r})")
    sources = tuple(sorted({str(s) for s in journal.get("decision_source", pd.Series(dtype=str)).dropna() if s}))
    if decider is not None:
        journal = journal[journal["decision_source"].astype(str).str.startswith(decider)]
    outcomes = local_outcomes_from_journal(journal)
    if at is None:
        at = (
            max(o.resolved_at for o in outcomes) + pd.Timedelta(seconds=1)
            if outcomes
            else pd.Timestamp("2262-01-01", tz="UTC").to_pydatetime()
        )
    elif at.tzinfo is None:
        raise ConfigError(f"--at {at}: give a time zone (e.g. 2025-01-20T15:30:00+00:00)")
    cal = Calibration(config)
    cal.observe(outcomes)
    rel = cal.reliability(at)
    return CalibrationReport(
        reliability=rel, table=reliability_frame(rel), origin=origin, at=at, decider=decider, sources=sources
    )
