"""`mesdesk forecast` (quant/LLM/AutoGluon forecast, or the walk-forward evaluation) and `mesdesk train-autogluon`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mesdesk.cli import app


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _forecast_tables(payload: dict[str, Any]) -> list[Table]:
    meta, diag = payload["llm_metadata"], payload["diagnostics"]
    main = Table(title=f"MES {payload['model']} forecast", caption=f"as of {payload['as_of']}", title_justify="left")
    for col in ("horizon", "forecast", "baseline_quant %", "final %"):
        main.add_column(col, justify="left" if col == "horizon" else "right")
    for h, text in payload["forecasts"].items():
        main.add_row(h, text, _fmt(payload["baseline_quant"].get(h)), _fmt(payload["forecast_numeric_pct"].get(h)))
    stats = Table(title="Diagnostics", title_justify="left")
    stats.add_column("figure")
    stats.add_column("value", justify="right")
    window = diag["sharpe_window"]
    stats.add_row(
        f"sharpe (daily, {window['days']} days {window['first_day']}..{window['last_day']})", _fmt(payload["sharpe"], 2)
    )
    stats.add_row(f"nn_mse ({diag['reference_horizon']} hold-out, %^2)", _fmt(payload["nn_mse"], 5))
    stats.add_row(
        "ridge hold-out MSE / naive zero MSE",
        f"{_fmt(diag['holdout_mse']['ridge'], 5)} / {_fmt(diag['holdout_mse']['naive_zero'], 5)}",
    )
    stats.add_row("nn_new_corr_example (hold-out corr)", _fmt(payload["nn_new_corr_example"], 3))
    stats.add_row("mm_adjust_1d_4h_points", _fmt(payload["mm_adjust_1d_4h_points"], 2))
    stats.add_row("macro source / bars", f"{diag['macro_source']} / {diag['bars_from']} ({diag['base_timeframe']})")
    for h, why in diag["horizons_dropped"].items():
        stats.add_row(f"horizon {h} dropped", why)
    llm = f"{meta['provider'] or '-'} {meta['model'] or ''}".strip()
    if meta["fallback_used"]:
        llm += f"; FALLBACK to quant: {meta['fallback_reason']}"
    elif meta["provider"] not in (None, "autogluon"):
        llm += f"; {meta['input_tokens']}+{meta['output_tokens']} tokens, {meta['latency_ms']:.0f} ms"
    stats.add_row("llm", llm + ("; cached" if meta.get("cached") else ""))
    feats = Table(title="Features (last row) and weights", title_justify="left")
    for col in ("feature", "value", "shap_proxy", "permutation", "correlation"):
        feats.add_column(col, justify="left" if col == "feature" else "right")
    for name, value in payload["features_last_row"].items():
        feats.add_row(
            name,
            _fmt(value),
            _fmt(payload["shap_proxy"].get(name), 5),
            _fmt(payload["permutation_importance"].get(name), 6),
            _fmt(payload["correlations"].get(name), 3),
        )
    return [main, stats, feats]


def _evaluation_table(report: Any) -> Table:
    title = (
        f"Purged walk-forward, {report.base_timeframe} decisions {report.first_decision:%Y-%m-%d} to "
        f"{report.last_decision:%Y-%m-%d} ({report.bars_from}; macro {report.macro_source}); returns in %"
    )
    table = Table(title=title, title_justify="left")
    cols = (
        "horizon",
        "rows",
        "folds",
        "oos n",
        "model",
        "MSE",
        "naive MSE",
        "R2 oos",
        "MAE",
        "naive MAE",
        "dir acc",
        "always up",
    )
    for col in cols:
        table.add_column(col, justify="left" if col in ("horizon", "model") else "right")
    for r in report.results:
        for name, s in (("ridge", r.ridge), ("mlp", r.mlp)):
            table.add_row(
                r.horizon, str(r.n_rows), str(r.n_folds), str(s.n_test), name,
                f"{s.mse:.6f}", f"{s.mse_naive:.6f}", f"{s.r2_oos:+.4f}", f"{s.mae:.5f}", f"{s.mae_naive:.5f}",
                f"{s.dir_acc:.3f}", f"{s.dir_always_up:.3f}",
            )  # fmt: skip
    return table


@app.command()
def forecast(
    model: Annotated[str, typer.Option("--model", help="quant | gpt | opus | autogluon.")] = "quant",
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly the /mes/forecast JSON.")] = False,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Walk-forward of the ridge and the MLP per horizon vs the zero forecast.")
    ] = False,
    source: Annotated[str, typer.Option("--source", help="synthetic | file | databento | yahoo.")] = "synthetic",
    file: Annotated[Path | None, typer.Option("--file", help="Bars file (CSV/Parquet) for --source file.")] = None,
    days_back: Annotated[int | None, typer.Option("--days-back", min=5, help="Calendar days of bars to use.")] = None,
    horizons: Annotated[str, typer.Option("--horizons", help="Comma-separated horizons.")] = "5m,15m,60m,4h,24h,7d",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic market.")] = 7,
) -> None:
    """Forecast MES returns per horizon (or evaluate the quant models out of sample)."""
    from mesdesk.config import load_settings
    from mesdesk.services.forecast import ForecastRequest, evaluate_forecast, forecast_payload

    settings = load_settings()
    request = ForecastRequest(
        source=source,
        file=file,
        days_back=days_back or settings.forecast_days_back,
        horizons=tuple(h for h in horizons.split(",") if h.strip()),
        seed=seed,
    )
    console = _console()
    if evaluate:
        report = evaluate_forecast(request, settings)
        console.print(_evaluation_table(report))
        for h, why in report.dropped.items():
            console.print(f"horizon {h} not evaluated: {why}")
        return
    payload = forecast_payload(model, request=request, settings=settings)
    if as_json:
        typer.echo(json.dumps(payload))
        return
    for table in _forecast_tables(payload):
        console.print(table)


@app.command("train-autogluon")
def train_autogluon(
    days_back: Annotated[int, typer.Option("--days-back", min=5, help="Calendar days of bars to train on.")] = 730,
    timeframe: Annotated[str, typer.Option("--timeframe", help="5m | 15m | 1h (regular grid).")] = "1h",
    horizons: Annotated[str, typer.Option("--horizons", help="Comma-separated horizons.")] = "5m,15m,60m,4h,24h,7d",
    quality: Annotated[str, typer.Option("--quality", help="extreme | high | medium | fast.")] = "extreme",
    time_limit: Annotated[int, typer.Option("--time-limit", min=5, help="Seconds AutoGluon may train.")] = 3600,
    prediction_length: Annotated[
        int, typer.Option("--prediction-length", min=1, help="Steps; expanded to cover the longest horizon.")
    ] = 1,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", help="Forecast CSV and summary JSON.")] = None,
    models_dir: Annotated[Path | None, typer.Option("--models-dir", help="Parent of autogluon_mes_<tf>/.")] = None,
    source: Annotated[str, typer.Option("--source", help="synthetic | file | databento | yahoo.")] = "synthetic",
    file: Annotated[Path | None, typer.Option("--file", help="Bars file (CSV/Parquet) for --source file.")] = None,
    allow_pretrained: Annotated[
        bool, typer.Option("--allow-pretrained", help="Also try Chronos/Toto (downloads weights).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic market.")] = 7,
) -> None:
    """Train an AutoGluon TimeSeries model on MES closes; write the forecast CSV, summary JSON and model."""
    from mesdesk.config import load_settings
    from mesdesk.services.forecast import ForecastRequest, TrainConfig
    from mesdesk.services.forecast import train_autogluon as run_training
    from mesdesk.timeframes import Timeframe

    settings = load_settings()
    config = TrainConfig(
        timeframe=Timeframe.parse(timeframe, param="--timeframe"),
        horizons=tuple(h for h in horizons.split(",") if h.strip()),
        quality=quality,
        time_limit_s=time_limit,
        prediction_length=prediction_length,
        output_dir=output_dir or settings.autogluon_output_dir,
        models_dir=models_dir or settings.autogluon_models_dir,
        allow_pretrained=allow_pretrained,
    )
    request = ForecastRequest(source=source, file=file, days_back=days_back, seed=seed)
    summary = run_training(request, config, settings)
    console = _console()
    table = Table(title=f"AutoGluon {summary['timeframe']} ({summary['presets']}), best: {summary['best_model']}")
    for col in ("horizon", "steps", "return %", "interpolated"):
        table.add_column(col, justify="left" if col == "horizon" else "right")
    for h, row in summary["horizons"].items():
        table.add_row(h, str(row["steps"]), f"{row['return_pct']:+.4f}", "yes" if row["interpolated"] else "")
    console.print(table)
    outputs = summary["outputs"]
    console.print(f"wrote {outputs['forecast_csv']}, {outputs['summary_json']} and {outputs['model_dir']}/")
