"""The optimizer's outputs as data: the summary (JSON-safe), the trials table, the stitched OOS trades.

The summary never carries the best in-sample figure without the walk-forward out-of-sample result,
the PBO and the Deflated Sharpe Ratio beside it.
"""

from __future__ import annotations

import math
from datetime import time
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.research.objectives import OBJECTIVES, DaySums, finite_or_none, objective_values
from mesdesk.research.optimize import OptimizeResult
from mesdesk.research.params import Value, format_value
from mesdesk.research.walkforward import folds


def _json_value(value: Value) -> Any:
    if isinstance(value, time):
        return format_value(value)
    return value


def _f(value: float | None, digits: int = 6) -> float | None:
    v = finite_or_none(value) if value is not None else None
    return None if v is None else round(v, digits)


def _totals(sums: DaySums, row: int, days: np.ndarray) -> tuple[int, float]:
    return int(sums.trades[row, days].sum()), float(sums.net[row, days].sum())


def summary(result: OptimizeResult) -> dict[str, Any]:
    """The figures a trader reads first, JSON-safe (NaN and inf become null)."""
    m = result.matrix
    all_days = np.arange(m.n_days)
    best = result.best
    wf = result.walk_forward
    mean, lo, hi = result.oos_expectancy_ci
    oos_tf = result.oos_trades_target_first["pnl_pts"].to_numpy(dtype=np.float64)
    in_sample: dict[str, Any] = {"objective": None, "objective_target_first": None, "trades": 0}
    if best >= 0:
        trades, net = _totals(m.stop_first, best, all_days)
        trades_tf, net_tf = _totals(m.target_first, best, all_days)
        in_sample = {
            "objective": _f(float(result.in_sample[best])),
            "objective_target_first": _f(float(result.in_sample_target_first[best])),
            "trades": trades,
            "net_pts": _f(net, 4),
            "net_pts_target_first": _f(net_tf, 4),
            "expectancy_pts": _f(net / trades, 4) if trades else None,
            "days": m.n_days,
        }
    pbo = result.pbo
    dsr = result.deflated
    return {
        "trials": result.n_configs,
        "search": result.spec.search,
        "objective": result.spec.objective,
        "min_trades": result.spec.min_trades,
        "best_params": {} if best < 0 else {k: _json_value(v) for k, v in result.assignments[best].items()},
        "best_note": "" if best >= 0 else "no configuration has enough trades over the whole span",
        "in_sample": in_sample,
        "walk_forward": {
            "windows": result.walk_forward_spec.label(),
            "folds": len(wf.choices),
            "oos_days": int(wf.oos_days.size),
            "oos_trades": int(len(result.oos_trades)),
            "oos_expectancy_pts": _f(mean, 4),
            "oos_ci95": [_f(lo, 4), _f(hi, 4)],
            "oos_net_pts": _f(float(wf.oos_daily_net.sum()), 4),
            "oos_net_pts_target_first": _f(float(wf.oos_daily_net_target_first.sum()), 4),
            "oos_expectancy_pts_target_first": _f(float(oos_tf.mean()), 4) if oos_tf.size else None,
            "oos_objective": _f(wf.oos_objective),
            "oos_objective_target_first": _f(wf.oos_objective_target_first),
            "is_objective": _f(wf.is_objective),
            "efficiency": _f(wf.efficiency),
            "changes": wf.changes,
            "chosen": [None if c.chosen < 0 else result.keys[c.chosen] for c in wf.choices],
        },
        "pbo": None if pbo is None else _f(pbo.pbo),
        "pbo_detail": {
            "groups": result.spec.groups,
            "splits": None if pbo is None else pbo.n_splits,
            "skipped": None if pbo is None else pbo.skipped,
            "median_logit": None if pbo is None else _f(pbo.median_logit),
            "note": result.pbo_note,
        },
        "deflated_sharpe": {
            "value": None if dsr is None else _f(dsr.value),
            "sr0": None if dsr is None else _f(dsr.sr0),
            "n_trials": result.n_configs,
            "var_sr": None if dsr is None else _f(dsr.var_sr, 8),
            "sharpe_per_day": None if dsr is None else _f(dsr.sharpe.sr),
            "skew": None if dsr is None else _f(dsr.sharpe.skew),
            "kurtosis": None if dsr is None else _f(dsr.sharpe.kurtosis),
            "n_obs": None if dsr is None else dsr.sharpe.n_obs,
        },
        "probabilistic_sharpe": None if dsr is None else _f(dsr.probabilistic),
        "stability": [
            {
                "param": s.param,
                "best_value": _json_value(s.best_value),
                "neighbours": [{"value": _json_value(v), "objective": _f(o)} for v, o in s.neighbours],
                "worst_drop": None if math.isinf(s.worst_drop) else _f(s.worst_drop),
                "worst_is_not_enough_trades": math.isinf(s.worst_drop),
            }
            for s in result.stability
        ],
    }


def trials_frame(result: OptimizeResult) -> pd.DataFrame:
    """Every configuration x window (each fold's train and test, and the whole span), all objectives.

    ``in_sample`` is True for train windows and the whole span; ``chosen`` marks the configuration a
    fold chose (on its train and its test row). Objectives below `min_trades` are NaN.
    """
    m = result.matrix
    spec = result.spec
    windows: list[tuple[str, int, str, np.ndarray]] = [("all", -1, "all", np.arange(m.n_days))]
    for f in folds(m.n_days, result.walk_forward_spec):
        windows.append(("train", f.number, f"train {f.number}", f.train_days))
        windows.append(("test", f.number, f"test {f.number}", f.test_days))
    chosen = {c.fold.number: c.chosen for c in result.walk_forward.choices}
    params = pd.DataFrame(
        [{k: format_value(v) for k, v in a.items()} for a in result.assignments], index=range(m.n_configs)
    )
    frames = []
    for kind, fold, _label, days in windows:
        cols: dict[str, Any] = {
            "config": result.keys,
            "window": kind,
            "fold": fold,
            "first_day": str(m.days[days[0]]),
            "last_day": str(m.days[days[-1]]),
            "days": days.size,
            "in_sample": kind != "test",
            "chosen": [fold >= 0 and chosen.get(fold) == i for i in range(m.n_configs)],
            "trades": m.stop_first.trades[:, days].sum(axis=1),
            "trades_target_first": m.target_first.trades[:, days].sum(axis=1),
        }
        for name in OBJECTIVES:
            cols[name] = objective_values(m.stop_first, days, name, spec.min_trades)
            cols[f"{name}_target_first"] = objective_values(m.target_first, days, name, spec.min_trades)
        frames.append(pd.concat([pd.DataFrame(cols), params.add_prefix("p:")], axis=1))
    return pd.concat(frames, ignore_index=True)
