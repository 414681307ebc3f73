"""`mesdesk calibration`: reliability of stated confidence, Brier score and the current threshold."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import typer

from mesdesk.cli import app
from mesdesk.errors import ConfigError


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


@app.command()
def calibration(
    journal: str | None = typer.Option(None, "--journal", help="journal.parquet or journal.csv written by a run."),
    store: bool = typer.Option(False, "--store", help="Read the store's journal (the default without --journal)."),
    table: str | None = typer.Option(
        None, "--table", help="Journal table in the store (default: the service's, service_journal)."
    ),
    runner: str | None = typer.Option(None, "--runner", help="Only this book of the service (e.g. paper)."),
    decider: str | None = typer.Option(None, "--decider", help="Only rows whose decision_source starts with this."),
    at: str | None = typer.Option(None, "--at", help="As known at this UTC time (ISO 8601 with offset)."),
    min_samples: int = typer.Option(30, "--min-samples", min=1, help="Outcomes needed before calibration applies."),
) -> None:
    """Print the reliability table, the Brier score and the adaptive confidence threshold.

    By default it reads the journal of the service (`mesdesk serve`) from the store of the settings.
    """
    from rich.console import Console
    from rich.table import Table

    from mesdesk.config import load_settings
    from mesdesk.decide.calibration import CalibrationConfig
    from mesdesk.services.calibration import calibration_report, journal_from_store, load_journal

    if journal is not None and store:
        raise ConfigError("give either --journal PATH or --store, not both")
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise ConfigError(f"--at {at!r}: expected ISO 8601, e.g. 2025-01-20T15:30:00+00:00") from None
    if journal is not None:
        frame, origin = load_journal(Path(journal)), journal
    else:
        url = load_settings().resolved_database_url
        frame, origin = journal_from_store(url, table, runner=runner)
    report = calibration_report(
        frame, origin=origin, decider=decider, at=when, config=CalibrationConfig(min_samples=min_samples)
    )
    rel = report.reliability
    console = Console()
    scope = f" (decider {decider})" if decider else ""
    console.print(f"[bold]Calibration[/bold] of {origin}{scope} as known at {report.at:%Y-%m-%d %H:%M:%S} UTC")
    t = Table(title="Reliability of stated confidence")
    for col in ("confidence", "n", "stated mean", "observed win %", "calibrated %"):
        t.add_column(col, justify="right")
    for r in rel.rows:
        t.add_row(
            f"{r.bin_low}-{r.bin_high}",
            str(r.n),
            _fmt(r.stated_mean),
            _fmt(r.observed_win_rate),
            _fmt(r.calibrated),
        )
    console.print(t)
    applies = "yes" if rel.applies else f"no (needs {min_samples})"
    console.print(f"answered and resolved: {rel.n}; pooled win rate {_fmt(rel.pooled_win_rate)} %; applies: {applies}")
    console.print(f"Brier score (stated confidence): {_fmt(rel.brier_stated, 4)}")
    console.print(
        f"threshold: {rel.threshold:g} (trailing-20 win rate {_fmt(rel.trailing_win_rate)} % "
        f"over {rel.trailing_n} trades; range 82-92, base 85)"
    )
    if report.sources:
        console.print("decision sources in the journal: " + ", ".join(report.sources))
