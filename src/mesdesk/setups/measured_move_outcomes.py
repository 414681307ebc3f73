"""Follow each measured-move signal from its fill to its outcome, on the finest bars available.

Trade plan (one contract, fixed stop, nothing moved):

- **Entry**: the open of the first path bar that opens at or after ``confirmed_at`` (the signal is
  known at the confirming bar's close, so the next price one can trade at is the next bar's open; the
  engine fills the same way). If that open is already at or beyond the stop or target_100 the setup is
  gone before it can be traded: outcome ``void``.
- **Window**: from the entry bar to the close of the ``max_hold_bars``-th bar of the signal's timeframe
  after the confirming bar (``expiry_at``); path bars closing after it do not count.
- **Stop** triggers when a bar trades at or through it and fills at the stop, or at the bar's open when
  the bar opens beyond it (gap). **Targets** fill at their price when a bar trades through them
  (``target_fill="through"``, high > target for a long) or touches them (``"touch"``).
- When the stop and a target are both inside one bar, the stop is assumed first and the signal is
  flagged ``ambiguous`` (the engine's rule: biased against us), unless the bar's open decides it: an
  open at or beyond the stop stops first, an open beyond the target (``touch``: at it) fills it first.

``outcome`` is the furthest level reached before the stop within the window:
``target_123_6`` (123.6% reached before any stop), ``target_100`` (100% reached, 123.6% not before the
stop or expiry), ``stop`` (stopped before target_100), ``expiry`` (neither level nor the stop by
``expiry_at``); ``open`` while the data end before the outcome is final; ``void`` (see entry).
``outcome_at`` is the close of the bar in which the named level traded (expiry: ``expiry_at``);
``resolved_at`` is when the label became final. Two P&Ls in points, gross of costs:
``pnl_pts`` for the plan that exits everything at target_100 (the R:R basis) and ``pnl_ext_pts`` for
the plan that holds for target_123_6; each exits at the stop or at the last close before
``expiry_at`` otherwise. ``mfe``/``mae`` (points, both >= 0) run from the entry to the bar of the
target_100-plan's exit, capped at the exit levels (no excursion counted past a fill; in a bar where
the stop filled only the open counts, the stop being assumed first).

The plan is walked by the engine's fills (`mesdesk.engine.fills`), not by code of its own: two
brackets entered at the same open, stop and target given as quoted prices (compared exactly), no
breakeven or trail, no slippage or commission, the last path bar closing by ``expiry_at`` as the flat
bar (exit reason ``expiry``). The first bracket's target is target_100, the second's target_123_6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.engine.config import BracketConfig, ExecutionConfig
from mesdesk.engine.fills import PositionState, open_position, walk
from mesdesk.errors import ConfigError
from mesdesk.pathbars import PathBars

OUTCOME_COLUMNS = (
    "entry_at",
    "entry",
    "expiry_at",
    "outcome",
    "outcome_at",
    "resolved_at",
    "exit_price",
    "pnl_pts",
    "pnl_ext_pts",
    "mfe",
    "mae",
    "ambiguous",
)


@dataclass(frozen=True, slots=True)
class OutcomeConfig:
    """How long a signal is followed (bars of its own timeframe) and how targets fill."""

    max_hold_bars: int = 50
    target_fill: Literal["through", "touch"] = "through"

    def __post_init__(self) -> None:
        if self.max_hold_bars < 1:
            raise ConfigError(f"max_hold_bars must be >= 1, got {self.max_hold_bars}")
        if self.target_fill not in ("through", "touch"):
            raise ConfigError(f"target_fill must be 'through' or 'touch', got {self.target_fill!r}")


# The plan's stop and targets are quoted prices (`stop_price`/`target_price`); this bracket only says that
# nothing moves the stop. Its tp/sl offsets are never used.
_FIXED_STOP = BracketConfig(breakeven_at_pts=None, trail_after_pts=None)


def plan_execution(config: OutcomeConfig) -> ExecutionConfig:
    """The plan's fills in the engine's terms: no slippage, no commission (gross points), stop first."""
    return ExecutionConfig(
        slippage_ticks=0, commission_usd_per_side=0.0, target_fill=config.target_fill, ambiguous_policy="stop_first"
    )


def _walk_plan(
    path: PathBars,
    e: int,
    direction: int,
    stop: float,
    target: float,
    end: int,
    flat_index: int | None,
    execution: ExecutionConfig,
) -> PositionState:
    """One bracket of the plan, entered at bar `e`'s open and walked over bars [e, end) by the engine's fills.

    Levels are quoted prices compared exactly (tolerance 0); a stopped bar counts only its open toward
    the MFE (the stop is assumed first); a position still open after `flat_index` exits at its close
    (``expiry``).
    """
    st = open_position(
        path,
        e,
        direction,
        _FIXED_STOP,
        execution,
        stop_price=stop,
        target_price=target,
        tolerance=0.0,
        mfe_in_stop_bar="open",
    )
    return walk(st, path, end, _FIXED_STOP, execution, flat_index=flat_index, flat_reason="expiry")


def follow_outcomes(
    signals: pd.DataFrame,
    tf_close_ns: npt.NDArray[np.int64],
    path: PathBars,
    config: OutcomeConfig | None = None,
) -> pd.DataFrame:
    """Outcome columns (`OUTCOME_COLUMNS`) for each signal row, aligned with `signals`' index.

    `signals` needs direction, confirm_idx (position in the timeframe's bars), confirmed_at, stop,
    target_100 and target_123_6. `tf_close_ns` is the close time of every bar of the signal's
    timeframe (for the expiry); `path` the bars walked (the base bars, or the timeframe's own).
    """
    cfg = config or OutcomeConfig()
    execution = plan_execution(cfg)
    rows: list[dict[str, object]] = []
    conf_ns = np.asarray(pd.DatetimeIndex(signals["confirmed_at"]).as_unit("ns").asi8, dtype=np.int64)
    entries = np.searchsorted(path.ts_ns, conf_ns, side="left")
    for pos, (direction, conf_idx, stop, t1, t2) in enumerate(
        zip(
            signals["direction"].to_numpy(),
            signals["confirm_idx"].to_numpy(dtype=np.int64),
            signals["stop"].to_numpy(dtype=np.float64),
            signals["target_100"].to_numpy(dtype=np.float64),
            signals["target_123_6"].to_numpy(dtype=np.float64),
            strict=True,
        )
    ):
        rows.append(
            _one(path, direction, int(conf_idx), int(entries[pos]), (stop, t1, t2), tf_close_ns, cfg, execution)
        )
    out = pd.DataFrame(rows, index=signals.index, columns=list(OUTCOME_COLUMNS))
    for col in ("entry_at", "expiry_at", "outcome_at", "resolved_at"):
        out[col] = pd.to_datetime(out[col].astype("float64"), unit="ns", utc=True)
    out["ambiguous"] = out["ambiguous"].astype(bool)
    return out


def _one(
    path: PathBars,
    direction: str,
    conf_idx: int,
    e: int,
    levels: tuple[float, float, float],
    tf_close_ns: npt.NDArray[np.int64],
    cfg: OutcomeConfig,
    execution: ExecutionConfig,
) -> dict[str, object]:
    sign = 1 if direction == "long" else -1
    stop, t1, t2 = levels
    exp_pos = conf_idx + cfg.max_hold_bars
    expiry_ns = int(tf_close_ns[exp_pos]) if exp_pos < tf_close_ns.size else None
    base: dict[str, object] = {
        "entry_at": None, "entry": np.nan, "expiry_at": expiry_ns, "outcome": "open", "outcome_at": None,
        "resolved_at": None, "exit_price": np.nan, "pnl_pts": np.nan, "pnl_ext_pts": np.nan,
        "mfe": np.nan, "mae": np.nan, "ambiguous": False,
    }  # fmt: skip
    if e >= len(path) or (expiry_ns is not None and path.ts_ns[e] >= expiry_ns):
        if expiry_ns is not None:  # no tradable bar before expiry: nothing happened
            base.update(outcome="void", resolved_at=expiry_ns)
        return base
    entry = float(path.open[e])
    base.update(entry_at=int(path.ts_ns[e]), entry=entry)
    if sign * entry <= sign * stop or sign * entry >= sign * t1:
        base.update(outcome="void", resolved_at=int(path.ts_ns[e]), mfe=0.0, mae=0.0)
        return base
    end = int(np.searchsorted(path.close_ns, expiry_ns, side="right")) if expiry_ns is not None else len(path)
    if end <= e:  # the entry bar closes after the expiry: the window holds no whole bar, nothing moved
        base.update(outcome="expiry", exit_price=entry, pnl_pts=0.0, pnl_ext_pts=0.0, mfe=0.0, mae=0.0)
        return base
    flat_index = end - 1 if expiry_ns is not None else None
    first = _walk_plan(path, e, sign, stop, t1, end, flat_index, execution)
    ext = _walk_plan(path, e, sign, stop, t2, end, flat_index, execution)
    outcome, outcome_at, resolved_at = _label(first, ext, path.close_ns, expiry_ns)
    base.update(
        outcome=outcome,
        outcome_at=outcome_at,
        resolved_at=resolved_at,
        exit_price=sign * first.exit_price,
        pnl_pts=first.exit_price - first.entry,
        pnl_ext_pts=ext.exit_price - ext.entry,
        mfe=max(first.best - first.entry, 0.0),
        mae=max(first.entry - first.worst, 0.0),
        ambiguous=first.ambiguous or ext.ambiguous,
    )
    return base


def _label(
    first: PositionState, ext: PositionState, close_ns: npt.NDArray[np.int64], expiry_ns: int | None
) -> tuple[str, int | None, int | None]:
    """(outcome, outcome_at, resolved_at) from the target_100 walk and the target_123_6 walk."""

    def at(st: PositionState) -> int:
        return int(close_ns[st.exit_index])

    if first.exit_reason == "sl":
        return "stop", at(first), at(first)
    if first.exit_reason == "tp":
        if ext.exit_reason == "tp":
            return "target_123_6", at(ext), at(ext)
        if ext.exit_reason == "sl":
            return "target_100", at(first), at(ext)
        if ext.exit_reason == "expiry":
            return "target_100", at(first), expiry_ns
        return "open", at(first), None
    if first.exit_reason == "expiry":
        return "expiry", expiry_ns, expiry_ns
    return "open", None, None
