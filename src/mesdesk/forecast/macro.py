"""The macro inputs of the forecast: VIX, fed funds, broad dollar and yuan, from FRED or a synthetic default.

`fred_macro` reads VIXCLS, DFF, DTWEXBGS and DEXCHUS through `mesdesk.data.fred.FredClient` (used
when FRED_API_KEY is set). Without a key, `synthetic_macro` gives a documented stand-in so the
forecast still runs offline:

- ``VIXCLS``: `mesdesk.data.vix.synthetic_vix` (the scanner's stand-in): annualised realised
  volatility of the bars over the last 10 trading days plus a flat 3-point premium, dated by trading
  day. A volatility proxy computed from the bars themselves, not the CBOE index.
- ``DFF``, ``DTWEXBGS``, ``DEXCHUS``: seeded random walks around 4.33 %, 120.0 and 7.20 (daily steps
  of 1 bp, 0.3 % and 0.2 %). They carry no information about the market: correlations and model
  weights on them measure noise, and the payload says that its macro source is ``synthetic``.

Either way every series is indexed by observation date and is read point-in-time with the
publication rules of `mesdesk.data.fred.fred_point_in_time` (a value dated D is used only once it
had been published).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_days
from mesdesk.data.fred import fred_point_in_time
from mesdesk.data.vix import synthetic_vix
from mesdesk.errors import DataError

MACRO_SERIES: dict[str, str] = {"vix": "VIXCLS", "fed_rates": "DFF", "usd_fx": "DTWEXBGS", "china": "DEXCHUS"}
"""Feature name -> FRED series id (the seed's correlation keys)."""

SYNTHETIC_SEED = 3
_WALKS = {"DFF": (4.33, 0.01, "abs"), "DTWEXBGS": (120.0, 0.003, "rel"), "DEXCHUS": (7.20, 0.002, "rel")}


class SeriesClient(Protocol):
    """What `fred_macro` needs of `mesdesk.data.fred.FredClient`."""

    def series(self, series_id: str, start: date | None = None, end: date | None = None) -> pd.Series: ...


@dataclass(frozen=True, slots=True)
class MacroData:
    """Daily macro series by FRED id (index: observation date) and where they came from."""

    series: Mapping[str, pd.Series]
    source: str  # "fred" or "synthetic"

    def point_in_time(self, index_utc: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        """Each feature's latest published value at each instant (NaN before the first one)."""
        out: dict[str, np.ndarray] = {}
        for feature, sid in MACRO_SERIES.items():
            series = self.series.get(sid)
            if series is None:
                raise DataError(f"macro data ({self.source}) lacks series {sid} ({feature})")
            out[feature] = fred_point_in_time(series.rename(sid), index_utc)
        return out


def fred_macro(client: SeriesClient, start: date, end: date) -> MacroData:
    """The four series from FRED over [start - 30 days, end] (the margin fills the first lookbacks)."""
    first = start - timedelta(days=30)
    return MacroData(series={sid: client.series(sid, first, end) for sid in MACRO_SERIES.values()}, source="fred")


def synthetic_macro(bars: pd.DataFrame, *, seed: int = SYNTHETIC_SEED) -> MacroData:
    """The offline stand-in described in the module docstring, built from `bars` (validated, UTC)."""
    if len(bars) < 2:
        raise DataError("synthetic macro needs at least two bars")
    days = trading_days(pd.DatetimeIndex(bars.index))
    vix = synthetic_vix(bars).rename("VIXCLS")

    first = pd.Timestamp(days[0]) - pd.Timedelta(days=40)
    dates = pd.date_range(first, pd.Timestamp(days[-1]), freq="D", name="date")
    series: dict[str, pd.Series] = {"VIXCLS": vix.dropna()}
    for i, (sid, (level, step, kind)) in enumerate(_WALKS.items()):
        # one generator per series: a longer history extends each walk without changing its past
        shocks = np.random.default_rng([seed, i]).normal(0.0, step, len(dates))
        values = level + np.cumsum(shocks) if kind == "abs" else level * np.exp(np.cumsum(shocks))
        series[sid] = pd.Series(np.round(values, 4), index=dates, name=sid)
    return MacroData(series=series, source="synthetic")
