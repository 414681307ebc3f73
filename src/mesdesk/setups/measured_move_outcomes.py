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
target_100-plan's exit, capped at the exit levels (no excursion counted past a fill).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.errors import ConfigError

FloatArray = npt.NDArray[np.float64]

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


@dataclass(frozen=True, slots=True)
class PathBars:
    """Bars the outcome is walked on, as arrays; a long's view (shorts are mirrored by negating prices)."""

    open_ns: npt.NDArray[np.int64]
    close_ns: npt.NDArray[np.int64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    @classmethod
    def from_frame(cls, bars: pd.DataFrame, span: pd.Timedelta) -> PathBars:
        open_ns = np.asarray(pd.DatetimeIndex(bars.index).as_unit("ns").asi8, dtype=np.int64)
        return cls(
            open_ns=open_ns,
            close_ns=open_ns + int(span.value),
            open=bars["open"].to_numpy(dtype=np.float64),
            high=bars["high"].to_numpy(dtype=np.float64),
            low=bars["low"].to_numpy(dtype=np.float64),
            close=bars["close"].to_numpy(dtype=np.float64),
        )

    def mirrored(self) -> PathBars:
        """Prices negated (high and low swapped): a short becomes a long."""
        return PathBars(self.open_ns, self.close_ns, -self.open, -self.low, -self.high, -self.close)


def _first(mask: npt.NDArray[np.bool_]) -> int:
    """Position of the first True, or -1."""
    return int(mask.argmax()) if mask.any() else -1


@dataclass(frozen=True, slots=True)
class _Levels:
    stop: float
    t1: float
    t2: float


def _walk(p: PathBars, e: int, end: int, lv: _Levels, through: bool, expiry_ns: int | None) -> dict[str, object]:
    """Outcome of a long entered at bar `e`'s open, path bars e..end-1 (all closing by expiry).

    `expiry_ns` is None while the holding window's last bar does not exist yet (nothing expires).
    """
    expiry_final = expiry_ns is not None
    entry = float(p.open[e])
    lo, hi, op = p.low[e:end], p.high[e:end], p.open[e:end]
    s = _first(lo <= lv.stop)
    f1 = _first(hi > lv.t1 if through else hi >= lv.t1)
    f2 = _first(hi > lv.t2 if through else hi >= lv.t2)
    n = end - e

    def close_at(j: int) -> int:
        return int(p.close_ns[e + j])

    stop_fill = float(min(op[s], lv.stop)) if s >= 0 else np.nan
    last_close = float(p.close[end - 1]) if n > 0 else entry

    def opens_beyond(level: float, j: int) -> bool:
        """Bar j's open already filled `level`: its first price decides the order within the bar."""
        return bool(op[j] > level if through else op[j] >= level)

    # Stop and a target in one bar: the stop is assumed first (ambiguous) unless the bar's open already
    # decides it: an open at or through the stop stops first, an open beyond the target fills it first.
    gap_stop = s >= 0 and bool(op[s] <= lv.stop)
    row: dict[str, object] = {"ambiguous": False}
    stop_first = s >= 0 and (f1 < 0 or s < f1 or (s == f1 and not opens_beyond(lv.t1, s)))
    if stop_first:
        row.update(outcome="stop", at=close_at(s), resolved=close_at(s), exit=stop_fill, x=s, ext_exit=stop_fill)
        row["ambiguous"] = s == f1 and not gap_stop
    elif f1 >= 0:
        ext_stop_first = s >= 0 and (f2 < 0 or s < f2 or (s == f2 and not opens_beyond(lv.t2, s)))
        if f2 >= 0 and not ext_stop_first:
            row.update(outcome="target_123_6", at=close_at(f2), resolved=close_at(f2), ext_exit=lv.t2)
        else:
            final = ext_stop_first or expiry_final
            resolved = close_at(s) if ext_stop_first else (expiry_ns if final else None)
            row.update(outcome="target_100" if final else "open", at=close_at(f1), resolved=resolved)
            row["ext_exit"] = stop_fill if ext_stop_first else (last_close if final else np.nan)
            row["ambiguous"] = ext_stop_first and s == f2 and not gap_stop
        row.update(exit=lv.t1, x=f1)
    elif expiry_final:
        at = expiry_ns if n > 0 else None
        row.update(outcome="expiry", at=at, resolved=at, exit=last_close, x=n - 1, ext_exit=last_close)
    else:
        row.update(outcome="open", at=None, resolved=None, exit=np.nan, x=n - 1, ext_exit=np.nan)
    x = int(row.pop("x"))  # type: ignore[call-overload]
    at_open = x >= 0 and x == f1 and row["outcome"] != "stop" and opens_beyond(lv.t1, x)
    row.update(_excursions(hi, lo, op, entry, x, row["outcome"], row["exit"], f1, at_open))
    return row


def _excursions(
    hi: FloatArray,
    lo: FloatArray,
    op: FloatArray,
    entry: float,
    x: int,
    outcome: object,
    exit_price: object,
    f1: int,
    exit_at_open: bool = False,
) -> dict[str, float]:
    """MFE and MAE (points, >= 0) from the entry to bar `x` of the window, capped at fills.

    `exit_at_open`: target_100 filled at bar `x`'s open, so nothing later in that bar was held.
    """
    if x < 0:
        return {"mfe": 0.0, "mae": 0.0}
    if exit_at_open:
        mfe = float(exit_price) - entry  # type: ignore[arg-type]
        mae = entry - float(lo[:x].min(initial=entry))
    elif outcome == "stop":  # stop assumed first in its bar: only that bar's open counts as favourable
        mfe = max(float(hi[:x].max(initial=entry)), float(op[x])) - entry
        mae = entry - float(exit_price)  # type: ignore[arg-type]
    else:
        mfe = float(hi[: x + 1].max()) - entry
        mae = entry - float(lo[: x + 1].min())
        if x == f1:  # left at target_100: nothing beyond it was held
            mfe = min(mfe, float(exit_price) - entry)  # type: ignore[arg-type]
    return {"mfe": max(mfe, 0.0), "mae": max(mae, 0.0)}


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
    through = cfg.target_fill == "through"
    mirrored = path.mirrored()
    rows: list[dict[str, object]] = []
    conf_ns = np.asarray(pd.DatetimeIndex(signals["confirmed_at"]).as_unit("ns").asi8, dtype=np.int64)
    entries = np.searchsorted(path.open_ns, conf_ns, side="left")
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
            _one(path, mirrored, direction, int(conf_idx), int(entries[pos]), (stop, t1, t2), tf_close_ns, cfg, through)
        )
    out = pd.DataFrame(rows, index=signals.index, columns=list(OUTCOME_COLUMNS))
    for col in ("entry_at", "expiry_at", "outcome_at", "resolved_at"):
        out[col] = pd.to_datetime(out[col].astype("float64"), unit="ns", utc=True)
    out["ambiguous"] = out["ambiguous"].astype(bool)
    return out


def _one(
    path: PathBars,
    mirrored: PathBars,
    direction: str,
    conf_idx: int,
    e: int,
    levels: tuple[float, float, float],
    tf_close_ns: npt.NDArray[np.int64],
    cfg: OutcomeConfig,
    through: bool,
) -> dict[str, object]:
    sign = 1.0 if direction == "long" else -1.0
    p = path if sign > 0 else mirrored
    lv = _Levels(*(sign * v for v in levels))
    exp_pos = conf_idx + cfg.max_hold_bars
    expiry_ns = int(tf_close_ns[exp_pos]) if exp_pos < tf_close_ns.size else None
    base: dict[str, object] = {
        "entry_at": None, "entry": np.nan, "expiry_at": expiry_ns, "outcome": "open", "outcome_at": None,
        "resolved_at": None, "exit_price": np.nan, "pnl_pts": np.nan, "pnl_ext_pts": np.nan,
        "mfe": np.nan, "mae": np.nan, "ambiguous": False,
    }  # fmt: skip
    if e >= p.open_ns.size or (expiry_ns is not None and p.open_ns[e] >= expiry_ns):
        if expiry_ns is not None:  # no tradable bar before expiry: nothing happened
            base.update(outcome="void", resolved_at=expiry_ns)
        return base
    entry = float(p.open[e])
    base.update(entry_at=int(p.open_ns[e]), entry=sign * entry)
    if entry <= lv.stop or entry >= lv.t1:
        base.update(outcome="void", resolved_at=int(p.open_ns[e]), mfe=0.0, mae=0.0)
        return base
    end = int(np.searchsorted(p.close_ns, expiry_ns, side="right")) if expiry_ns is not None else p.open_ns.size
    row = _walk(p, e, max(end, e), lv, through, expiry_ns)
    exit_price = float(row["exit"])  # type: ignore[arg-type]
    ext_exit = float(row["ext_exit"])  # type: ignore[arg-type]
    base.update(
        outcome=row["outcome"],
        outcome_at=row["at"],
        resolved_at=row["resolved"],
        exit_price=sign * exit_price,
        pnl_pts=exit_price - entry,
        pnl_ext_pts=ext_exit - entry,
        mfe=row["mfe"],
        mae=row["mae"],
        ambiguous=row["ambiguous"],
    )
    return base
