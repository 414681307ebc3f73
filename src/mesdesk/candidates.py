"""The candidate frame's schema: one list of columns for the setups, the engine, the runner and learning.

A candidate frame has one row per (bar, setup, direction) where a setup completed. Its columns, in
order, are `CANDIDATE_COLUMNS` (docs/setups.md explains each); a frame may carry further numeric
columns after them (a user setup's own features). `ts` is the close of the bar that completed the
candidate (UTC); every number in its row is known at `ts`.
"""

from __future__ import annotations

import pandas as pd

from mesdesk.prefilter import PF_COLUMNS

# What a user setup must return (docs/extending.md); everything else is optional or computed.
SETUP_REQUIRED_COLUMNS = ("ts", "direction")
# What the engine cannot do without.
REQUIRED_COLUMNS = ("ts", "setup_type", "direction", "ref_entry", "prefilter_score")

# Numbers learning and the deciders read, signed in the trade's favour, all known at `ts`.
FEATURE_COLUMNS = (
    "dist_vwap_atr",
    "dist_ema_atr",
    "ema_slope_atr",
    "minutes_since_open",
    "dist_level_atr",
    "ema_spread_atr",
    "bar_range_atr",
    "body_frac",
    "close_position",
    "or_width_atr",
    "atr_bar_pts",
    "setup_level",
)

# The bar and market context of a candidate, computed by mesdesk for every setup.
CONTEXT_COLUMNS = ("volume_multiple", "atr_5m", "session_label", "trading_day", "timestamp_ct")

CANDIDATE_COLUMNS = (
    "ts",
    "bar_index",
    "setup_type",
    "direction",
    "ref_entry",
    "prefilter_score",
    "passed_prefilter",
    *PF_COLUMNS,
    *CONTEXT_COLUMNS,
    *FEATURE_COLUMNS,
)

# Columns that are not features (identity, labels, text); every other numeric column is a feature.
NON_FEATURES = frozenset(
    {
        "ts",
        "bar_index",
        "setup_type",
        "direction",
        "ref_entry",
        "prefilter_score",
        "passed_prefilter",
        *CONTEXT_COLUMNS,
    }
)

# pandas dtypes of the non-float columns (every other schema column is float64).
COLUMN_DTYPES = {
    "ts": "datetime64[ns, UTC]",
    "bar_index": "int64",
    "setup_type": "object",
    "direction": "object",
    "passed_prefilter": "bool",
    "session_label": "object",
    "trading_day": "datetime64[s]",
    "timestamp_ct": "object",
}


def empty_candidate_frame() -> pd.DataFrame:
    """A frame with no candidates, every schema column in order with its dtype."""
    frame = pd.DataFrame({name: pd.Series(dtype=COLUMN_DTYPES.get(name, "float64")) for name in CANDIDATE_COLUMNS})
    return frame[list(CANDIDATE_COLUMNS)]
