"""DatabentoSource with the real SDK, DBN bytes from databento_dbn served through `responses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import databento
import pandas as pd
import pytest
import requests
import responses

from mesdesk.data.cache import BarCache, CacheKey
from mesdesk.data.databento_source import DatabentoConfig, DatabentoSource, stype_of
from mesdesk.data.fetching import ChunkDone
from mesdesk.data.http import RetryPolicy
from mesdesk.errors import BudgetExceeded, ConfigError, ProviderError
from mesdesk.timeframes import Timeframe

from .dbn import GET_COST, GET_RANGE, RESOLVE, dbn_bytes, minute_rows, resolve_body

NOW = pd.Timestamp("2025-06-02 12:00", tz="UTC")
START = "2025-03-10 14:00"


@pytest.fixture(name="mocked")
def fixture_mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _source(
    tmp_path: Path | None = None, *, max_cost: float = 5.0, attempts: int = 3, progress=None
) -> tuple[DatabentoSource, list[float]]:
    slept: list[float] = []
    source = DatabentoSource(
        databento.Historical(key="db-" + "x" * 29),
        cache=BarCache(tmp_path) if tmp_path is not None else None,
        config=DatabentoConfig(max_cost_usd=max_cost, retry=RetryPolicy(attempts=attempts, backoff_s=1.0)),
        progress=progress,
        now=lambda: NOW,
        sleep=slept.append,
    )
    return source, slept


def _form(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[-1] for k, v in parse_qs(text).items()}


def _serve(
    mocked: responses.RequestsMock, payload: bytes, *, cost: float = 0.01, names: dict[int, str] | None = None
) -> None:
    mocked.add(responses.POST, GET_COST, body=json.dumps(cost), content_type="application/json")
    mocked.add(responses.POST, GET_RANGE, body=payload, content_type="application/octet-stream")
    mocked.add(responses.POST, RESOLVE, body=resolve_body(names or {42: "MESM5"}), content_type="application/json")


def _calls(mocked: responses.RequestsMock, url: str) -> list[responses.Call]:
    return [c for c in mocked.calls if c.request.url == url]


def test_continuous_minute_bars_keep_the_contract_and_check_cost_first(mocked: responses.RequestsMock) -> None:
    _serve(mocked, dbn_bytes(minute_rows(START, [5700.0, 5701.25, 5700.5])))
    source, _ = _source()
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert list(bars.index) == list(pd.date_range(START, periods=3, freq="1min", tz="UTC"))
    assert bars["close"].tolist() == [5700.0, 5701.25, 5700.5]
    assert bars["volume"].dtype == "int64"
    assert bars["symbol"].tolist() == ["MESM5"] * 3
    assert bars["instrument_id"].tolist() == [42] * 3
    urls = [c.request.url for c in mocked.calls]
    assert urls.index(GET_COST) < urls.index(GET_RANGE)
    form = _form(_calls(mocked, GET_RANGE)[0])
    assert (form["dataset"], form["schema"], form["symbols"], form["stype_in"]) == (
        "GLBX.MDP3",
        "ohlcv-1m",
        "MES.c.0",
        "continuous",
    )
    assert form["start"].startswith("2025-03-10T00:00:00")
    assert form["end"].startswith("2025-03-11T00:00:00")


def test_maintenance_break_stays_a_gap(mocked: responses.RequestsMock) -> None:
    # 2025-03-10 is CDT (UTC-5): 15:58, 15:59 CT then the reopen at 17:00, 17:01 CT.
    rows = minute_rows("2025-03-10 20:58", [5700.0, 5700.25]) + minute_rows("2025-03-10 22:00", [5702.0, 5702.5])
    _serve(mocked, dbn_bytes(rows))
    source, _ = _source()
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-03-10 20:00", "2025-03-10 23:00")
    assert len(bars) == 4
    assert bars.index[2] - bars.index[1] == pd.Timedelta(minutes=61)


def test_cost_above_the_limit_downloads_nothing(mocked: responses.RequestsMock) -> None:
    _serve(mocked, dbn_bytes(minute_rows(START, [5700.0])), cost=12.5)
    source, _ = _source(max_cost=5.0)
    with pytest.raises(BudgetExceeded, match=r"would cost \$12.50, above --max-cost \$5.00"):
        source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert _calls(mocked, GET_RANGE) == []


def test_cache_hit_makes_no_call_and_overlap_fetches_only_the_rest(
    mocked: responses.RequestsMock, tmp_path: Path
) -> None:
    _serve(mocked, dbn_bytes(minute_rows(START, [5700.0, 5701.0])))
    source, _ = _source(tmp_path)
    first = source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    seen = len(mocked.calls)
    again = source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert len(mocked.calls) == seen  # no network at all
    pd.testing.assert_frame_equal(first, again)
    source.bars("MES.c.0", Timeframe.M1, "2025-03-10 12:00", "2025-03-12")
    ranges = _calls(mocked, GET_RANGE)
    assert len(ranges) == 2
    assert _form(ranges[1])["start"].startswith("2025-03-11T00:00:00")


def test_refresh_downloads_again(mocked: responses.RequestsMock, tmp_path: Path) -> None:
    _serve(mocked, dbn_bytes(minute_rows(START, [5700.0])))
    source, _ = _source(tmp_path)
    source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11", refresh=True)
    assert len(_calls(mocked, GET_RANGE)) == 2


def test_empty_range_returns_no_bars_and_is_cached(mocked: responses.RequestsMock, tmp_path: Path) -> None:
    _serve(mocked, dbn_bytes([]))
    source, _ = _source(tmp_path)
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-03-08", "2025-03-09")  # a Saturday
    assert bars.empty
    source.bars("MES.c.0", Timeframe.M1, "2025-03-08", "2025-03-09")
    assert len(_calls(mocked, GET_RANGE)) == 1


def test_bad_key_is_auth_error(mocked: responses.RequestsMock) -> None:
    detail = {"detail": {"case": "auth_invalid_key", "message": "Invalid API key.", "docs": None}}
    mocked.add(responses.POST, GET_COST, json=detail, status=401)
    source, slept = _source()
    with pytest.raises(ProviderError, match="DATABENTO_API_KEY refused") as info:
        source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert info.value.kind == "auth"
    assert slept == []


def test_429_is_retried_then_succeeds(mocked: responses.RequestsMock) -> None:
    mocked.add(responses.POST, GET_COST, json={"detail": "Too many requests"}, status=429)
    _serve(mocked, dbn_bytes(minute_rows(START, [5700.0])))
    source, slept = _source()
    assert len(source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")) == 1
    assert slept == [1.0]


@pytest.mark.parametrize(
    ("kwargs", "kind", "match"),
    [
        ({"json": {"detail": "Too many requests"}, "status": 429}, "rate_limit", "HTTP 429"),
        ({"json": {"detail": "Internal"}, "status": 500}, "server", "HTTP 500"),
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, "timeout", "no answer in time"),
    ],
)
def test_persistent_failures_are_typed_after_retries(
    mocked: responses.RequestsMock, kwargs: dict, kind: str, match: str
) -> None:
    mocked.add(responses.POST, GET_COST, json=0.01)
    mocked.add(responses.POST, GET_RANGE, **kwargs)
    source, slept = _source(attempts=3)
    with pytest.raises(ProviderError, match=match) as info:
        source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert info.value.kind == kind
    assert "gave up after 3 attempts" in str(info.value)
    assert slept == [1.0, 2.0]


def test_malformed_stream_is_payload_error(mocked: responses.RequestsMock) -> None:
    mocked.add(responses.POST, GET_COST, json=0.01)
    mocked.add(responses.POST, GET_RANGE, body=b"<html>not dbn</html>" * 4)
    source, slept = _source()
    with pytest.raises(ProviderError) as info:
        source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert info.value.kind == "payload"
    assert slept == []


def test_large_range_is_chunked_with_progress_and_failure_keeps_earlier_chunks(
    mocked: responses.RequestsMock, tmp_path: Path
) -> None:
    mocked.add(responses.POST, GET_COST, json=0.5)
    mocked.add(responses.POST, RESOLVE, body=resolve_body({42: "MESH5"}))
    mocked.add(responses.POST, GET_RANGE, body=dbn_bytes(minute_rows("2025-01-06 15:00", [5900.0, 5901.0])))
    mocked.add(responses.POST, GET_RANGE, json={"detail": "Internal"}, status=500)
    events: list[ChunkDone] = []
    source, _ = _source(tmp_path, attempts=1, progress=events.append)
    with pytest.raises(ProviderError):
        source.bars("MES.c.0", Timeframe.M1, "2025-01-06", "2025-03-06")  # 59 days: two 31-day chunks
    assert [(e.done, e.total, e.rows) for e in events] == [(1, 2, 2)]
    cache = BarCache(tmp_path)
    key_missing = cache.missing(
        CacheKey("databento", "MES.c.0", Timeframe.M1),
        pd.Timestamp("2025-01-06", tz="UTC"),
        pd.Timestamp("2025-03-06", tz="UTC"),
    )
    assert [pd.Timestamp(a, unit="ns", tz="UTC") for a, _ in key_missing] == [pd.Timestamp("2025-02-06", tz="UTC")]
    mocked.replace(responses.POST, GET_RANGE, body=dbn_bytes(minute_rows("2025-02-10 15:00", [5950.0])))
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-01-06", "2025-03-06")
    assert bars["close"].tolist() == [5900.0, 5901.0, 5950.0]
    # cost is asked once per chunk, before any download
    assert sum(1 for c in mocked.calls if c.request.url == GET_COST) == 3


def test_parent_symbology_drops_spreads_and_follows_previous_day_volume(mocked: responses.RequestsMock) -> None:
    # Day 1 (trading day 2025-03-11): MESH5 trades most; day 2 (2025-03-12) MESM5 leads.
    d1 = "2025-03-10 23:00"  # 18:00 CT, trading day 2025-03-11
    d2 = "2025-03-11 23:00"  # trading day 2025-03-12
    d3 = "2025-03-12 23:00"  # trading day 2025-03-13
    rows = (
        minute_rows(d1, [5700.0], instrument_id=1, volume=900)
        + minute_rows(d1, [5760.0], instrument_id=2, volume=100)
        + minute_rows(d1, [60.0], instrument_id=3, volume=50)
        + minute_rows(d2, [5705.0], instrument_id=1, volume=100)
        + minute_rows(d2, [5765.0], instrument_id=2, volume=1000)
        + minute_rows(d2, [60.25], instrument_id=3, volume=5000)
        + minute_rows(d3, [5710.0], instrument_id=1, volume=10)
        + minute_rows(d3, [5770.0], instrument_id=2, volume=10)
    )
    rows.sort(key=lambda r: r[0])
    _serve(mocked, dbn_bytes(rows, symbol="MES.FUT", stype="parent"), names={1: "MESH5", 2: "MESM5", 3: "MESH5-MESM5"})
    source, _ = _source()
    bars = source.bars("MES.FUT", Timeframe.M1, "2025-03-10 22:00", "2025-03-13")
    # day 1 has no previous day in the data: dropped; day 2 follows day 1's leader (H5); day 3 follows M5.
    assert bars["symbol"].tolist() == ["MESH5", "MESM5"]
    assert bars["close"].tolist() == [5705.0, 5770.0]
    assert _form(_calls(mocked, GET_RANGE)[0])["stype_in"] == "parent"
    # the cost asked is the cost of what is downloaded: from 4 days before the start
    assert _form(_calls(mocked, GET_COST)[0])["start"] == _form(_calls(mocked, GET_RANGE)[0])["start"]
    assert _form(_calls(mocked, GET_RANGE)[0])["start"].startswith("2025-03-06T22:00")


def test_daily_bars_are_built_from_hours_on_the_cme_trading_day(mocked: responses.RequestsMock) -> None:
    # Trading day 2025-03-11 (CDT): 17:00 CT Mar 10 = 22:00 UTC ... 16:00 CT Mar 11 = 21:00 UTC (23 hours).
    hours = pd.date_range("2025-03-10 22:00", periods=23, freq="1h", tz="UTC")
    rows = [
        (str(t.tz_localize(None)), 5700.0 + i, 5701.0 + i, 5699.0 + i, 5700.5 + i, 100, 42) for i, t in enumerate(hours)
    ]
    _serve(mocked, dbn_bytes(rows, schema="ohlcv-1h"))
    source, _ = _source()
    daily = source.bars("MES.c.0", Timeframe.D1, "2025-03-10 22:00", "2025-03-12")
    assert len(daily) == 1
    row = daily.iloc[0]
    assert daily.index[0] == pd.Timestamp("2025-03-10 22:00", tz="UTC")
    assert (row["open"], row["high"], row["low"], row["close"], row["volume"]) == (5700.0, 5723.0, 5699.0, 5722.5, 2300)
    assert row["symbol"] == "MESM5"
    assert _form(_calls(mocked, GET_RANGE)[0])["schema"] == "ohlcv-1h"


def test_live_partial_bar_is_dropped(mocked: responses.RequestsMock) -> None:
    _serve(mocked, dbn_bytes(minute_rows("2025-06-02 11:58", [5900.0, 5900.5, 5901.0])))
    source, _ = _source()
    source._now = lambda: pd.Timestamp("2025-06-02 12:00:30", tz="UTC")
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-06-02 11:00", "2025-06-02 13:00")
    assert bars.index[-1] == pd.Timestamp("2025-06-02 11:59", tz="UTC")


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="DATABENTO_API_KEY"):
        DatabentoSource.from_key(None)


def test_symbology_of_symbols() -> None:
    assert stype_of("MES.c.0") == "continuous"
    assert stype_of("MES.v.1") == "continuous"
    assert stype_of("MES.FUT") == "parent"
    assert stype_of("MESZ5") == "raw_symbol"


def test_requests_stop_at_the_published_end_of_the_dataset(mocked: responses.RequestsMock) -> None:
    mocked.add(
        responses.GET,
        "https://hist.databento.com/v0/metadata.get_dataset_range",
        json={"start": "2017-05-21T00:00:00.000000000Z", "end": "2025-06-02T11:40:00.000000000Z"},
    )
    _serve(mocked, dbn_bytes(minute_rows("2025-06-02 11:30", [5900.0, 5901.0])))
    source, _ = _source()  # now = 12:00 UTC
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-06-02 11:00", "2025-06-02 12:00")
    assert len(bars) == 2
    assert _form(_calls(mocked, GET_RANGE)[0])["end"].startswith("2025-06-02T11:40:00")
    assert _form(_calls(mocked, GET_COST)[0])["end"].startswith("2025-06-02T11:40:00")


def test_contract_names_unavailable_keep_instrument_ids(mocked: responses.RequestsMock) -> None:
    mocked.add(responses.POST, GET_COST, json=0.01)
    mocked.add(responses.POST, GET_RANGE, body=dbn_bytes(minute_rows(START, [5700.0])))
    mocked.add(responses.POST, RESOLVE, json={"detail": "Internal"}, status=500)
    source, _ = _source()
    bars = source.bars("MES.c.0", Timeframe.M1, "2025-03-10", "2025-03-11")
    assert bars["symbol"].tolist() == ["#42"]


def test_cost_estimate_counts_only_what_is_not_cached(mocked: responses.RequestsMock, tmp_path: Path) -> None:
    _serve(mocked, dbn_bytes(minute_rows(START, [5700.0])), cost=0.25)
    source, _ = _source(tmp_path)
    start, end = pd.Timestamp("2025-03-10", tz="UTC"), pd.Timestamp("2025-03-12", tz="UTC")
    assert source.estimate_cost_usd("MES.c.0", Timeframe.M1, start, end) == 0.25  # one chunk
    source.bars("MES.c.0", Timeframe.M1, start, pd.Timestamp("2025-03-11", tz="UTC"))
    assert source.estimate_cost_usd("MES.c.0", Timeframe.M1, start, end) == 0.25  # the missing day only
    form = _form(_calls(mocked, GET_COST)[-1])
    assert form["start"].startswith("2025-03-11T00:00")
