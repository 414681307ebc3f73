"""FRED daily series (VIXCLS, DFF, DTWEXBGS, DEXCHUS ...) and their point-in-time alignment.

`FredClient` is a small JSON client on `requests` for ``/fred/series/observations``; its base URL is
a setting (``MESDESK_FRED_BASE_URL``) so tests serve the same JSON from 127.0.0.1.

A daily observation is dated by the day it describes, not the day it became known. mesdesk uses a
value dated D only from an instant when it had certainly been published (`fred_point_in_time`):

===========  =============================================  =========================================
series       published                                      usable by mesdesk from
===========  =============================================  =========================================
VIXCLS       VIX close at 16:15 ET on D                     D+1 00:00 America/New_York
DFF          New York Fed, about 09:00 ET on D+1            D+2 00:00 America/New_York
DTWEXBGS     Fed H.10, weekly, Monday after D's week        Wednesday 00:00 America/New_York after
DEXCHUS      (Tuesday when Monday is a holiday)             D's week (Monday-Sunday)
other        unknown                                        D+1 00:00 America/New_York
===========  =============================================  =========================================

Every rule errs late: a value is never used before it could have been read. FRED serves the latest
vintage; later revisions (rare for these series) are not undone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import requests

from mesdesk.data.http import RetryPolicy, Sleep, get_with_retry
from mesdesk.errors import ConfigError, ProviderError

PROVIDER = "fred"
DEFAULT_FRED_BASE_URL = "https://api.stlouisfed.org"
DEFAULT_FRED_SERIES: tuple[str, ...] = ("VIXCLS", "DFF", "DTWEXBGS", "DEXCHUS")
NEW_YORK = "America/New_York"
_PAGE_LIMIT = 100_000  # FRED's maximum page size


@dataclass(frozen=True, slots=True)
class Publication:
    """When an observation dated D is usable: D + `lag_days` at 00:00 New York time.

    With `weekly`, D + `lag_days` is counted from the Monday of D's week instead (weekly releases).
    """

    lag_days: int = 1
    weekly: bool = False


NEXT_DAY = Publication(lag_days=1)
PUBLICATIONS: dict[str, Publication] = {
    "VIXCLS": NEXT_DAY,
    "DFF": Publication(lag_days=2),
    # H.10 comes out on the Monday after the week; Wednesday 00:00 leaves a day for holiday Mondays.
    "DTWEXBGS": Publication(lag_days=9, weekly=True),
    "DEXCHUS": Publication(lag_days=9, weekly=True),
}


def publication_for(series_id: str | None) -> Publication:
    """The publication rule of a series (the conservative next-day rule when unknown)."""
    return PUBLICATIONS.get((series_id or "").upper(), NEXT_DAY)


def available_from_utc(dates: pd.DatetimeIndex, rule: Publication) -> pd.DatetimeIndex:
    """The UTC instant from which each observation date becomes usable under `rule`."""
    days = pd.DatetimeIndex(dates).tz_localize(None).normalize()
    if rule.weekly:
        days = days - pd.to_timedelta(days.weekday, unit="D")
    local = days + pd.Timedelta(days=rule.lag_days)
    # Midnight is never skipped or repeated in New York (DST changes at 02:00).
    return local.tz_localize(NEW_YORK).tz_convert("UTC")


def fred_point_in_time(
    series: pd.Series, index_utc: pd.DatetimeIndex, *, rule: Publication | None = None
) -> np.ndarray:
    """The latest value of `series` already published at each instant of `index_utc` (NaN before any).

    `series` is indexed by observation date (as `FredClient.series` returns it); missing values
    ("." on FRED) are skipped, so a holiday carries the previous published value. The rule comes from
    `series.name` (see the module table) unless `rule` is given. Returns float64, one per instant.
    """
    if not isinstance(index_utc, pd.DatetimeIndex) or index_utc.tz is None:
        raise ConfigError("fred_point_in_time: index_utc must be a timezone-aware DatetimeIndex")
    rule = rule or publication_for(str(series.name) if series.name is not None else None)
    valid = series.dropna().sort_index()
    out = np.full(len(index_utc), np.nan)
    if valid.empty or len(index_utc) == 0:
        return out
    avail = available_from_utc(pd.DatetimeIndex(valid.index), rule).as_unit("ns").asi8
    when = index_utc.tz_convert("UTC").as_unit("ns").asi8
    pos = np.searchsorted(avail, when, side="right") - 1
    known = pos >= 0
    out[known] = valid.to_numpy(dtype="float64")[pos[known]]
    return out


def _as_date(value: date | datetime | str | None, param: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ConfigError(f"{param}={value!r} is not a date (YYYY-MM-DD)") from None


class FredClient:
    """Observations of FRED series as float `pd.Series` indexed by observation date (NaN for ".")."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_FRED_BASE_URL,
        session: requests.Session | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError("FRED_API_KEY is not set: get a free key at fred.stlouisfed.org and export it")
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._policy = policy or RetryPolicy()
        self._sleep = sleep or time.sleep

    def series(
        self,
        series_id: str,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        *,
        allow_empty: bool = False,
    ) -> pd.Series:
        """Observations dated in [start, end] (both inclusive, calendar dates).

        Raises `ProviderError` (kind auth, rate_limit, server, timeout, request, payload, or empty
        when the range holds no observation and `allow_empty` is false).
        """
        sid = series_id.strip().upper()
        if not sid:
            raise ConfigError("series_id is empty")
        params: dict[str, Any] = {"series_id": sid, "api_key": self._key, "file_type": "json", "limit": _PAGE_LIMIT}
        first, last = _as_date(start, "start"), _as_date(end, "end")
        if first:
            params["observation_start"] = first
        if last:
            params["observation_end"] = last
        rows: list[dict[str, Any]] = []
        while True:
            body = self._get(sid, {**params, "offset": len(rows)})
            page = _observations(body, sid)
            rows.extend(page)
            count = body.get("count")
            if not page or not isinstance(count, int) or len(rows) >= count:
                break
        out = _to_series(rows, sid)
        if out.empty and not allow_empty:
            span = f"{first or 'start'} to {last or 'today'}"
            raise ProviderError(f"{sid}: no observations from {span}", provider=PROVIDER, kind="empty")
        return out

    def many(
        self,
        series_ids: Iterable[str] = DEFAULT_FRED_SERIES,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
    ) -> pd.DataFrame:
        """Several series side by side on the union of their dates (columns named by series id)."""
        frames = {sid.upper(): self.series(sid, start, end, allow_empty=True) for sid in series_ids}
        return pd.DataFrame(frames)

    def _get(self, sid: str, params: dict[str, Any]) -> dict[str, Any]:
        response = get_with_retry(
            self._session,
            f"{self._base}/fred/series/observations",
            params=params,
            provider=PROVIDER,
            what=sid,
            policy=self._policy,
            sleep=self._sleep,
            classify=_classify,
        )
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(f"{sid}: answer is not JSON", provider=PROVIDER, kind="payload") from None
        if not isinstance(body, dict):
            raise ProviderError(f"{sid}: answer is not a JSON object", provider=PROVIDER, kind="payload")
        return body


def _classify(response: requests.Response) -> ProviderError | None:
    """FRED answers a bad or unregistered key with 400 and a message naming api_key."""
    if response.status_code == 400 and "api_key" in response.text:
        return ProviderError(
            "HTTP 400, FRED_API_KEY refused (not registered or not a 32-character key)", provider=PROVIDER, kind="auth"
        )
    return None


def _observations(body: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    obs = body.get("observations")
    if not isinstance(obs, list):
        raise ProviderError(f"{sid}: answer has no 'observations' list", provider=PROVIDER, kind="payload")
    for i, row in enumerate(obs):
        if not isinstance(row, dict) or "date" not in row or "value" not in row:
            raise ProviderError(
                f"{sid}: observation {i} lacks date/value: {row!r:.80}", provider=PROVIDER, kind="payload"
            )
    return obs


def _to_series(rows: list[dict[str, Any]], sid: str) -> pd.Series:
    dates: list[pd.Timestamp] = []
    values = np.empty(len(rows), dtype="float64")
    for i, row in enumerate(rows):
        try:
            dates.append(pd.Timestamp(date.fromisoformat(str(row["date"]))))
        except ValueError:
            raise ProviderError(f"{sid}: bad date {row['date']!r}", provider=PROVIDER, kind="payload") from None
        raw = str(row["value"]).strip()
        if raw == ".":
            values[i] = np.nan
            continue
        try:
            values[i] = float(raw)
        except ValueError:
            raise ProviderError(
                f"{sid}: bad value {raw!r} on {row['date']}", provider=PROVIDER, kind="payload"
            ) from None
    index = pd.DatetimeIndex(dates, name="date").as_unit("ns") if dates else pd.DatetimeIndex([], name="date")
    out = pd.Series(values, index=index, name=sid, dtype="float64")
    out = out[~out.index.duplicated(keep="last")].sort_index()
    return out
