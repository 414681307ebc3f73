"""`mesdesk optimize`: a parameter search judged out of sample (walk-forward, PBO, Deflated Sharpe)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from mesdesk.cli import app
from mesdesk.cli.options import (
    DaysOption,
    EndOption,
    FileOption,
    SetupOption,
    SetupParamOption,
    SlippageOption,
    SourceOption,
    StartOption,
    SubBarsOption,
    TimeframeOption,
    parse_day,
)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@app.command()
def optimize(  # noqa: PLR0913 - one parameter per option
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
    source: SourceOption = "synthetic",
    file: FileOption = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = 60,
    timeframe: TimeframeOption = "1m",
    sub_bars: SubBarsOption = "none",
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic market and of the TPE sampler."),
    slippage_ticks: SlippageOption = 1,
    param: list[str] | None = typer.Option(  # noqa: B008 - a repeatable option is a list
        None, "--param", help="NAME=v1,v2,... or NAME=lo:hi:step (repeatable). Default: a small bracket grid."
    ),
    search: str = typer.Option("grid", "--search", help="grid (every configuration) or tpe (Optuna, seeded)."),
    trials: int = typer.Option(50, "--trials", min=1, help="TPE: trials per walk-forward fold."),
    objective: str = typer.Option("sharpe", "--objective", help="sharpe (daily net), expectancy, net, profit_factor."),
    min_trades: int = typer.Option(10, "--min-trades", min=1, help="Fewer trades in a window: not enough trades."),
    walk_forward: str | None = typer.Option(
        None, "--walk-forward", help="TRAIN:TEST[:STEP] in trading days (default: a third : a sixth of the days)."
    ),
    anchored: bool = typer.Option(False, "--anchored", help="Expanding train windows from the first day."),
    groups: int = typer.Option(10, "--groups", help="CSCV blocks of trading days (even)."),
    out: str | None = typer.Option(None, "--out", help="Folder for trials, summary and report; resumes a sweep."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    yes: bool = typer.Option(False, "--yes", help="Allow a grid over 100,000 configurations."),
    executor: str = typer.Option(
        "local", "--executor", help="local (worker processes on this machine) or ray (needs mesdesk[ray])."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Join this Ray cluster (default: RAY_ADDRESS, else a local Ray)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes (local) or CPUs of a local Ray (default: all CPUs; 1: no pool)."
    ),
) -> None:
    """Search configurations; report the best only beside its out-of-sample result, PBO and DSR."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from mesdesk.services.optimize import OptimizeRequest, run_optimize_job

    req = OptimizeRequest(
        source=source,
        file=None if file is None else Path(file),
        start=parse_day(start, "--start"),
        end=parse_day(end, "--end"),
        days=days,
        timeframe=timeframe,
        sub_bars=None if sub_bars.lower() == "none" else sub_bars,
        seed=seed,
        slippage_ticks=slippage_ticks,
        params=tuple(param or ()),
        search=search,
        trials=trials,
        search_seed=seed,
        objective=objective,
        min_trades=min_trades,
        walk_forward=walk_forward,
        anchored=anchored,
        groups=groups,
        out=None if out is None else Path(out),
        yes=yes,
        setups=tuple(setup or ()),
        setup_params=tuple(setup_param or ()),
        executor=executor,
        ray_address=ray_address,
        workers=workers,
    )
    err = Console(stderr=True)
    with Progress(
        TextColumn("configurations"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("sweep", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = run_optimize_job(req, progress=progress)
    if as_json:
        typer.echo(json.dumps(report.summary, indent=2, sort_keys=True))
        return
    print_summary(Console(), report)


def print_summary(console: Any, report: Any) -> None:
    """Rich tables of an `OptimizeReport` (times in CT, labelled)."""
    from rich.table import Table

    from mesdesk.calendar import CT
    from mesdesk.research.params import format_value

    s = report.summary
    r = report.result
    first = report.first_bar.tz_convert(CT)
    last = report.last_bar.tz_convert(CT)
    console.print(
        f"[bold]Optimize[/bold] {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} CT, {report.bars:,} bars, "
        f"{s['data']['trading_days']} trading days; {s['trials']} configurations ({r.ran} run, {r.reused} resumed, "
        f"{r.detections} candidate detections) in {r.seconds:.1f} s"
    )
    obj = s["objective"]
    ins, wf, dsr = s["in_sample"], s["walk_forward"], s["deflated_sharpe"]
    lo, hi = wf["oos_ci95"]
    t = Table(title=f"Best configuration by in-sample {obj} (stop-first; target-first beside)", show_header=False)
    rows = [
        ("best configuration", ", ".join(f"{k}={v}" for k, v in s["best_params"].items()) or s["best_note"]),
        (
            "in-sample (whole span)",
            f"{obj} {_fmt(ins['objective'])} (target-first {_fmt(ins['objective_target_first'])}), "
            f"{ins['trades']} trades, net {_fmt(ins.get('net_pts'), 2)} pts",
        ),
        (
            "walk-forward out of sample",
            f"{wf['windows']}, {wf['folds']} folds, {wf['oos_days']} days: {obj} "
            f"{_fmt(wf['oos_objective'])} (target-first {_fmt(wf['oos_objective_target_first'])})",
        ),
        (
            "OOS trades / expectancy",
            f"{wf['oos_trades']} trades, {_fmt(wf['oos_expectancy_pts'])} pts per trade, "
            f"95% interval [{_fmt(lo)}, {_fmt(hi)}]; net {_fmt(wf['oos_net_pts'], 2)} pts "
            f"(target-first {_fmt(wf['oos_net_pts_target_first'], 2)})",
        ),
        (
            "walk-forward efficiency",
            f"{_fmt(wf['efficiency'], 2)} (OOS / IS {obj}); choice changed "
            f"{wf['changes']} of {max(0, wf['folds'] - 1)} times",
        ),
        (
            "PBO (CSCV)",
            f"{_fmt(s['pbo'], 2)} over {s['pbo_detail']['groups']} groups, "
            f"median logit {_fmt(s['pbo_detail']['median_logit'], 2)} ({s['pbo_detail']['note']})",
        ),
        (
            "Deflated Sharpe",
            f"{_fmt(dsr['value'], 3)}: daily Sharpe {_fmt(dsr['sharpe_per_day'])} vs "
            f"SR0 {_fmt(dsr['sr0'])} expected of the best of {dsr['n_trials']} trials",
        ),
        ("Probabilistic Sharpe", f"{_fmt(s['probabilistic_sharpe'], 3)} (probability the true daily Sharpe > 0)"),
    ]
    for name, value in rows:
        t.add_row(name, value)
    console.print(t)
    names = [p.name for p in r.spec.params]
    folds = Table(title=f"Walk-forward folds (CT trading days); chosen: {' / '.join(names)}")
    for col in ("fold", "train", "test", "chosen", f"IS {obj}", f"OOS {obj}", "OOS trades"):
        folds.add_column(col)
    m = r.matrix
    day = [str(d)[5:] for d in m.days]  # MM-DD; the year is in the first line
    for c in r.walk_forward.choices:
        f = c.fold
        chosen = r.assignments[c.chosen] if c.chosen >= 0 else {}
        folds.add_row(
            str(f.number),
            f"{day[f.train_start]}..{day[f.train_end - 1]}",
            f"{day[f.test_start]}..{day[f.test_end - 1]}",
            "not enough trades" if c.chosen < 0 else " / ".join(format_value(chosen[n]) for n in names),
            _fmt(c.is_objective),
            _fmt(c.oos_objective),
            str(c.oos_trades),
        )
    console.print(folds)
    if s["stability"]:
        st = Table(title="Stability: the objective one grid step from the best")
        for col in ("parameter", "best", "neighbours", "worst drop"):
            st.add_column(col)
        for row in s["stability"]:
            nb = ", ".join(f"{n['value']}: {_fmt(n['objective'])}" for n in row["neighbours"]) or "not evaluated"
            drop = "not enough trades" if row["worst_is_not_enough_trades"] else _fmt(row["worst_drop"])
            st.add_row(row["param"], str(row["best_value"]), nb, drop)
        console.print(st)
    if report.files:
        console.print(f"Wrote {len(report.files)} files under {report.files[0].parent}")
