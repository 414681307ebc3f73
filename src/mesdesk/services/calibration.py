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


SERVICE_JOURNAL = "service_journal"


def journal_from_store(url: str, table: str | None = None, *, runner: str | None = None) -> tuple[pd.DataFrame, str]:
    """The journal rows kept in the store and where they came from.

    `table` None: the service's journal (`service_journal`, written by `mesdesk serve`), else a
    table named `journal`. `runner` keeps one book of the service's journal.
    """
    from sqlalchemy import inspect

    from mesdesk.store.base import make_engine

    engine = make_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        present = set(inspect(engine).get_table_names())
        if table is None:
            table = next((t for t in (SERVICE_JOURNAL, "journal") if t in present), None)
            if table is None:
                raise ConfigError(
                    f"the store at {where} has no journal yet ({SERVICE_JOURNAL}): run `mesdesk serve` first, "
                    "or give --journal PATH"
                )
        elif table not in present:
            raise ConfigError(f"the store at {where} has no table {table!r}")
        frame = pd.read_sql_table(table, engine)
    finally:
        engine.dispose()
    origin = f"store table {table}"
    if runner is not None:
        if "runner" not in frame.columns:
            raise ConfigError(f"--runner {runner!r}: {origin} has no runner column")
        books = sorted({str(r) for r in frame["runner"]})
        frame = frame[frame["runner"] == runner]
        if frame.empty:
            raise ConfigError(f"--runner {runner!r}: no rows in {origin} (books: {', '.join(books) or 'none'})")
        origin += f", book {runner}"
    for col in ("ts", "decision_ts", "entry_ts", "exit_ts"):
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce")
    return frame, origin


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
