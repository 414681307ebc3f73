"""`mesdesk learn ...`: show, reset, update and evaluate the learning memory."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mesdesk.cli import app
from mesdesk.cli.options import SetupOption, SetupParamOption

learn_app = typer.Typer(help="Learning: fingerprints, hard negatives, walk-forward proof.", no_args_is_help=True)
app.add_typer(learn_app, name="learn")

_SOURCE = typer.Option("synthetic", "--source", help="synthetic | file | databento | yahoo")
_FILE = typer.Option(None, "--file", help="Bars file for --source file (CSV or Parquet).")
_DAYS = typer.Option(40, "--days", min=2, help="Trading days (synthetic, databento, yahoo).")
_TF = typer.Option("1m", "--timeframe", help="Decision bars: 1m or 5m.")


def _fmt(x: float, spec: str = "+.3f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


@learn_app.command("show")
def show(setup: str = typer.Option(None, "--setup", help="Only this setup.")) -> None:  # noqa: B008
    """Print the stored fingerprints with their status (gold / active / probation / blocked)."""
    from mesdesk.services.learning import fingerprints

    rows = fingerprints(setup=setup)
    table = Table(title=f"fingerprints ({len(rows)})")
    for col in ("fingerprint_id", "setup", "status", "samples", "win_rate", "expectancy", "interval"):
        table.add_column(col, justify="right" if col in ("samples", "win_rate", "expectancy") else "left")
    for r in rows[:200]:
        low, high = r["expectancy_low"], r["expectancy_high"]
        interval = "-" if low is None else f"[{low:+.2f}, {high:+.2f}]"
        table.add_row(
            str(r["fingerprint_id"]),
            str(r["setup"]),
            str(r["status"]),
            str(r["samples"]),
            f"{r['win_rate']:.1f}",
            f"{r['expectancy']:+.3f}",
            interval,
            str(r["key"]),
        )
    Console().print(table)


@learn_app.command("reset")
def reset(yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Forget everything learning has stored."""
    from mesdesk.services.learning import reset as do_reset

    if not yes and not typer.confirm("Delete every stored learning outcome?"):
        raise typer.Abort()
    typer.echo(f"deleted {do_reset()} outcomes")


@learn_app.command("update")
def update(
    source: str = _SOURCE,
    file: Path = _FILE,
    days: int = _DAYS,
    timeframe: str = _TF,
    seed: int = typer.Option(7, "--seed"),
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
) -> None:
    """Follow every candidate of the bars to its as-if-taken outcome and store it (idempotent)."""
    from mesdesk.services.learning import LearnRequest
    from mesdesk.services.learning import update as do_update

    req = LearnRequest(
        source=source,
        file=file,
        days=days,
        timeframe=timeframe,
        seed=seed,
        setups=tuple(setup or ()),
        setup_params=tuple(setup_param or ()),
    )
    new, total = do_update(req)
    typer.echo(f"stored {new} new outcomes; {total} in the store")


@learn_app.command("evaluate")
def evaluate(
    source: str = _SOURCE,
    file: Path = _FILE,
    days: int = _DAYS,
    timeframe: str = _TF,
    seed: int = typer.Option(7, "--seed"),
    train_days: int = typer.Option(10, "--train-days", min=1),
    test_days: int = typer.Option(5, "--test-days", min=1),
    decider: str = typer.Option("rules", "--decider"),
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
) -> None:
    """Walk-forward: out-of-sample trades, win rate, expectancy and net points, learning on vs off."""
    from mesdesk.services.learning import LearnRequest
    from mesdesk.services.learning import evaluate as do_evaluate

    req = LearnRequest(
        source=source,
        file=file,
        days=days,
        timeframe=timeframe,
        seed=seed,
        train_days=train_days,
        test_days=test_days,
        decider=decider,
        setups=tuple(setup or ()),
        setup_params=tuple(setup_param or ()),
    )
    rep = do_evaluate(req)
    title = (
        f"walk-forward: {rep.folds} folds, train {train_days} d / test {test_days} d, "
        f"{len(rep.test_days)} test days, out of sample, 95% intervals"
    )
    table = Table(title=title)
    for col in ("learning", "trades", "win rate %", "expectancy pts", "net pts"):
        table.add_column(col, justify="right")
    for name, s in (("off", rep.off), ("on", rep.on)):
        table.add_row(
            name,
            str(s.trades),
            f"{_fmt(s.win_rate, '.1f')} [{_fmt(s.win_rate_low, '.1f')}, {_fmt(s.win_rate_high, '.1f')}]",
            f"{_fmt(s.expectancy)} [{_fmt(s.expectancy_low)}, {_fmt(s.expectancy_high)}]",
            f"{_fmt(s.net_pts, '+.2f')} [{_fmt(s.net_low, '+.2f')}, {_fmt(s.net_high, '+.2f')}]",
        )
    Console().print(table)
    typer.echo(f"candidates vetoed by learning in the test windows: {rep.vetoes}")
