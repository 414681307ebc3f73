"""An example user setup: the first close beyond the opening range, once per direction per day.

Run it with any command that takes setups, e.g.::

    mesdesk backtest --setup examples/setups/opening_range_breakout.py:opening_range_breakout
    mesdesk lookahead --setup examples/setups/opening_range_breakout.py:opening_range_breakout \
        --setup-param opening_range_breakout.range_minutes=15

A setup is a plain function of the bar frame (UTC index = bar open; open, high, low, close,
volume) and keyword parameters. It returns one row per candidate: ``ts`` (UTC, the CLOSE of the bar
that completed it), ``direction`` ("long"/"short"), and here also ``level`` (the range edge, for the
prefilter's location points) and one feature of its own, ``range_width_pts``. With no ``score``
column, mesdesk's prefilter scores each candidate as it scores the built-ins.

Point in time: the range is complete when its last bar closes; a breakout bar is only compared with
that range and with earlier bars of its own day, so nothing here reads a later bar.
"""

from __future__ import annotations

import pandas as pd

RTH_OPEN_MINUTE = 8 * 60 + 30  # 08:30 Central


def opening_range_breakout(
    bars: pd.DataFrame,
    range_minutes: int = 30,
    buffer_ticks: int = 1,
    last_entry_minute: int = 11 * 60,
    tick_size: float = 0.25,
) -> pd.DataFrame:
    """Long on the first close above the opening-range high (short: below the low), 08:30 CT + range."""
    if len(bars) < 2:
        return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns, UTC]"), "direction": pd.Series(dtype=object)})
    span = pd.Series(bars.index).diff().min()  # the bar length
    ct = bars.index.tz_convert("America/Chicago")
    minute = ct.hour * 60 + ct.minute
    day = pd.Index(ct.date)
    in_range = (minute >= RTH_OPEN_MINUTE) & (minute + span.total_seconds() / 60 <= RTH_OPEN_MINUTE + range_minutes)
    after = (minute >= RTH_OPEN_MINUTE + range_minutes) & (minute < last_entry_minute)

    frame = bars.assign(day=day, in_range=in_range, after=after)
    ranges = frame[frame["in_range"]].groupby("day").agg(high=("high", "max"), low=("low", "min"))
    rows = []
    buffer = buffer_ticks * tick_size
    for d, group in frame[frame["after"]].groupby("day"):
        if d not in ranges.index:
            continue
        high, low = ranges.loc[d, "high"], ranges.loc[d, "low"]
        for direction, broke, level in (
            ("long", group["close"] > high + buffer, high),
            ("short", group["close"] < low - buffer, low),
        ):
            if broke.any():
                first = broke.idxmax()  # the first bar of the day that closed beyond the edge
                rows.append({"ts": first + span, "direction": direction, "level": level, "range_width_pts": high - low})
    if not rows:
        return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns, UTC]"), "direction": pd.Series(dtype=object)})
    return pd.DataFrame(rows)
