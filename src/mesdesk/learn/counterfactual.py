"""Follow candidates with the engine's own bracket, as if each had been taken.

Every candidate (taken, skipped, refused or below the prefilter) gets the outcome it would have had:
the same decision time (end of its batch window), the same entry rule (first path bar opening at or
after it), the same bracket, costs and session-end flattening as the engine. Learning then sees what
skipping cost and is not biased toward what was taken. An outcome exists only once its exit is in
the known bars, and it is known from the close of the exit bar (`resolved_at`), exactly like a trade.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.engine.candidates import decision_times
from mesdesk.engine.config import EngineConfig
from mesdesk.engine.fills import simulate_bracket
from mesdesk.engine.risk import close_time_utc, in_entry_window
from mesdesk.model import candidate_key
from mesdesk.outcome import Outcome
from mesdesk.pathbars import PathBars

FEATURE_COLUMNS = (
    "prefilter_score",
    "volume_multiple",
    "atr_5m",
    "ref_entry",
    "dist_vwap_atr",
    "dist_ema_atr",
    "ema_slope_atr",
    "minutes_since_open",
)


def _dt(ns: int) -> datetime:
    return pd.Timestamp(ns, unit="ns", tz=UTC).to_pydatetime()


def candidate_features(row: pd.Series) -> dict[str, float]:
    out: dict[str, float] = {}
    for col in FEATURE_COLUMNS:
        if col in row.index:
            value = row[col]
            out[col] = float(value) if value is not None and np.isfinite(value) else math.nan
    return out


def follow(
    candidates: pd.DataFrame,
    path: PathBars,
    config: EngineConfig,
    *,
    taken: Iterable[str] = (),
    known_until_ns: int | None = None,
    entry_windows_only: bool = True,
) -> list[Outcome]:
    """As-if-taken outcomes of `candidates` whose exit is known by `known_until_ns` (default: all data).

    `taken` holds the keys of candidates that were really traded: their outcomes are flagged
    `counterfactual=False`, all others `True`. Candidates whose entry would fall outside the entry
    windows are skipped when `entry_windows_only` (the engine could never have taken them).
    """
    if len(candidates) == 0 or len(path) == 0:
        return []
    taken_keys = set(taken)
    known = len(path) if known_until_ns is None else path.known_count(known_until_ns)
    decided_ns = decision_times(candidates, config.execution.batch_window_s)
    ts = pd.DatetimeIndex(candidates["ts"])
    out: list[Outcome] = []
    for i in range(len(candidates)):
        e = path.first_open_at_or_after(int(decided_ns[i]))
        if e >= known:
            continue
        decided = _dt(int(decided_ns[i]))
        day = trading_day(decided)
        if entry_windows_only and not in_entry_window(_dt(int(path.ts_ns[e])), day, config.session):
            continue
        flat_ns = int(pd.Timestamp(close_time_utc(day, config.session.close_on(day))).as_unit("ns").value)
        flat_index = path.last_closed_by(flat_ns)
        row = candidates.iloc[i]
        direction = 1 if row["direction"] == "long" else -1
        result = simulate_bracket(
            path,
            e,
            direction,
            config.bracket,
            config.execution,
            flat_index=flat_index if flat_index >= e else None,
            end_index=known,
        )
        if result.exit_index < 0:
            continue
        key = candidate_key(ts[i].to_pydatetime(), str(row["setup_type"]), str(row["direction"]))
        out.append(
            Outcome(
                key=key,
                setup=str(row["setup_type"]),
                direction=str(row["direction"]),
                session=str(row.get("session_label", "")),
                decided_at=decided,
                resolved_at=max(_dt(int(result.exit_ts_ns)), decided),
                pnl_pts=float(result.pnl_pts),
                counterfactual=key not in taken_keys,
                features=candidate_features(row),
            )
        )
    return out
