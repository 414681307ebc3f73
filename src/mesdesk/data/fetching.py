"""What the provider sources share: request ranges, chunking, progress reports, the live-bar cut."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from mesdesk.calendar import trading_day, trading_day_open
from mesdesk.data.cache import Interval
from mesdesk.data.resample import bin_close_ns
from mesdesk.errors import ConfigError
from mesdesk.timeframes import Timeframe


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """Progress of a download: `done` of `total` chunks fetched, `rows` bars in the last one."""

    source: str
    done: int
    total: int
    rows: int
    label: str


Progress = Callable[[ChunkDone], None]


def utc(value: datetime | pd.Timestamp | str, param: str) -> pd.Timestamp:
    """A request bound as a UTC timestamp; a date string means its 00:00 UTC, a naive datetime is refused."""
    if isinstance(value, str):
        try:
            stamp = pd.Timestamp(value)
        except ValueError:
            raise ConfigError(
                f"{param}={value!r} is not a date or time (e.g. 2025-03-10 or 2025-03-10T14:30Z)"
            ) from None
        return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).as_unit("ns")
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ConfigError(f"{param}={value} has no time zone; give an aware datetime (UTC)")
    return stamp.tz_convert("UTC").as_unit("ns")


def split(intervals: list[Interval], chunk: pd.Timedelta) -> list[Interval]:
    """Cut each interval into pieces no longer than `chunk`."""
    step = int(chunk.value)
    out: list[Interval] = []
    for start, end in intervals:
        cursor = start
        while cursor < end:
            out.append((cursor, min(cursor + step, end)))
            cursor += step
    return out


def closed_before(frame: pd.DataFrame, now: pd.Timestamp, timeframe: Timeframe) -> pd.DataFrame:
    """Drop bars that have not closed by `now` (the live partial bar); daily bars close 16:00 CT."""
    if len(frame) == 0:
        return frame
    closes = bin_close_ns(pd.DatetimeIndex(frame.index), timeframe)
    kept: pd.DataFrame = frame[closes <= now.value]
    return kept


def ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def bin_floor(start: pd.Timestamp, timeframe: Timeframe) -> pd.Timestamp:
    """The open of the `timeframe` bin containing `start` (4h and 1d bins start on the CME trading day)."""
    if timeframe in (Timeframe.H4, Timeframe.D1):
        return pd.Timestamp(trading_day_open(trading_day(start.to_pydatetime()))).tz_convert("UTC")
    return start.floor(pd.Timedelta(timeframe.span))
