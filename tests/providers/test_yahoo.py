"""Yahoo chart client and YahooSource through `responses`, and the chart JSON parser on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
import responses

from mesdesk.data.cache import BarCache
from mesdesk.data.http import RetryPolicy
from mesdesk.data.yahoo import COOKIE_URL, CRUMB_URL, YahooClient, YahooSource, parse_chart
from mesdesk.errors import ConfigError, ProviderError
from mesdesk.timeframes import Timeframe

from .yahoo_fake import CHART, chart_body, chart_error

NOW = pd.Timestamp("2025-03-14 20:00", tz="UTC")
URL = CHART.format("MES=F")


@pytest.fixture(name="mocked")
def fixture_mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _source(
    tmp_path: Path | None = None, *, attempts: int = 3, now: pd.Timestamp = NOW
) -> tuple[YahooSource, list[float]]:
    slept: list[float] = []
    client = YahooClient(requests.Session(), policy=RetryPolicy(attempts=attempts, backoff_s=2.0), sleep=slept.append)
    cache = BarCache(tmp_path) if tmp_path is not None else None
    return YahooSource(client=client, cache=cache, now=lambda: now), slept


def _minutes(start: str, n: int) -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="1min", tz="UTC"))


def _query(call: responses.Call) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def test_minute_bars_in_utc_with_the_request_parameters(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, json=chart_body("MES=F", _minutes("2025-03-13 14:30", 3), [5700.0, 5701.0, 5700.75]))
    source, _ = _source()
    bars = source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")
    assert list(bars.index) == _minutes("2025-03-13 14:30", 3)
    assert str(bars.index.tz) == "UTC"
    assert bars["close"].tolist() == [5700.0, 5701.0, 5700.75]
    assert bars["symbol"].tolist() == ["MES=F"] * 3
    q = _query(mocked.calls[0])
    assert q["interval"] == "1m"
    assert int(q["period1"]) == int(pd.Timestamp("2025-03-13 14:00", tz="UTC").timestamp())
    assert int(q["period2"]) == int(pd.Timestamp("2025-03-13 15:00", tz="UTC").timestamp())


def test_live_partial_bar_is_dropped(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, json=chart_body("MES=F", _minutes("2025-03-14 19:57", 4), [5700.0, 5701.0, 5702.0, 5703.0]))
    source, _ = _source(now=pd.Timestamp("2025-03-14 20:00:20", tz="UTC"))
    bars = source.bars("MES=F", Timeframe.M1, "2025-03-14 19:00", "2025-03-14 21:00")
    assert bars.index[-1] == pd.Timestamp("2025-03-14 19:59", tz="UTC")  # 20:00 bar still open


def test_maintenance_break_nulls_are_dropped_not_filled(mocked: responses.RequestsMock) -> None:
    # 15:58, 15:59 CT, two null rows at 16:00/16:01 CT, then 17:00 CT (CDT: +5 h)
    stamps = _minutes("2025-03-13 20:58", 4) + [pd.Timestamp("2025-03-13 22:00", tz="UTC")]
    mocked.get(URL, json=chart_body("MES=F", stamps, [5700.0, 5700.25, None, None, 5702.0]))
    source, _ = _source()
    bars = source.bars("MES=F", Timeframe.M1, "2025-03-13 20:00", "2025-03-13 23:00")
    assert len(bars) == 3
    assert bars.index[-1] - bars.index[-2] == pd.Timedelta(minutes=61)


def test_beyond_the_history_limit_is_refused_naming_it(mocked: responses.RequestsMock) -> None:
    source, _ = _source()
    with pytest.raises(ConfigError, match="1m bars for the last 30 days only"):
        source.bars("MES=F", Timeframe.M1, "2025-02-01", "2025-02-02")
    with pytest.raises(ConfigError, match="last 730 days"):
        source.bars("MES=F", Timeframe.H1, "2023-01-01", "2023-01-02")
    with pytest.raises(ConfigError, match="no 1s bars"):
        source.bars("MES=F", Timeframe.S1, "2025-03-13", "2025-03-14")
    assert len(mocked.calls) == 0


def test_minute_requests_are_cut_into_seven_day_chunks(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, json=chart_body("MES=F", [], []))
    source, _ = _source()
    source.bars("MES=F", Timeframe.M1, "2025-02-27", "2025-03-14")
    spans = [(int(_query(c)["period2"]) - int(_query(c)["period1"])) / 86400 for c in mocked.calls]
    assert spans == [7.0, 7.0, 1.0]


def test_empty_answer_gives_no_bars(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, json=chart_body("MES=F", [], []))
    source, _ = _source()
    assert source.bars("MES=F", Timeframe.M1, "2025-03-08", "2025-03-09").empty


def test_429_is_retried_then_succeeds(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, body="Too Many Requests", status=429)
    mocked.get(URL, json=chart_body("MES=F", _minutes("2025-03-13 14:30", 1), [5700.0]))
    source, slept = _source()
    assert len(source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")) == 1
    assert slept == [2.0]


@pytest.mark.parametrize(
    ("kwargs", "kind", "match"),
    [
        ({"body": "Too Many Requests", "status": 429}, "rate_limit", "rate limited.*gave up after 3 attempts"),
        ({"body": "<html>Will be right back</html>", "status": 503}, "server", "HTTP 503"),
        ({"body": requests.exceptions.ConnectTimeout("timed out")}, "timeout", "no answer within"),
        (
            {"json": chart_error("Not Found", "No data found, symbol may be delisted"), "status": 404},
            "request",
            "delisted",
        ),
        ({"body": "<html>oops</html>", "status": 200}, "payload", "not JSON"),
        (
            {"json": {"chart": {"result": [{"timestamp": [1], "indicators": {"quote": [{"open": []}]}}]}}},
            "payload",
            "open has 0",
        ),
    ],
)
def test_failures_are_typed(mocked: responses.RequestsMock, kwargs: dict, kind: str, match: str) -> None:
    mocked.get(URL, **kwargs)
    source, _ = _source()
    with pytest.raises(ProviderError, match=match) as info:
        source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")
    assert info.value.kind == kind


def test_401_fetches_cookie_and_crumb_once_then_retries(mocked: responses.RequestsMock) -> None:
    unauthorized = {"finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}}
    mocked.get(URL, json=unauthorized, status=401)
    mocked.get(URL, json=chart_body("MES=F", _minutes("2025-03-13 14:30", 1), [5700.0]))
    mocked.get(
        COOKIE_URL,
        status=404,
        headers={"Set-Cookie": "A3=d=AQAB; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Domain=.yahoo.com; Path=/"},
    )
    mocked.get(CRUMB_URL, body="abcCRUMB123")
    source, _ = _source()
    assert len(source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")) == 1
    assert _query(mocked.calls[-1])["crumb"] == "abcCRUMB123"


def test_401_with_a_crumb_is_auth_error(mocked: responses.RequestsMock) -> None:
    mocked.get(URL, json={"chart": {"error": {"description": "Unauthorized"}}}, status=401)
    mocked.get(COOKIE_URL, body="")
    mocked.get(CRUMB_URL, body="abcCRUMB123")
    source, _ = _source()
    with pytest.raises(ProviderError, match="HTTP 401") as info:
        source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")
    assert info.value.kind == "auth"


def test_cache_hit_makes_no_call(mocked: responses.RequestsMock, tmp_path: Path) -> None:
    mocked.get(URL, json=chart_body("MES=F", _minutes("2025-03-13 14:30", 2), [5700.0, 5701.0]))
    source, _ = _source(tmp_path)
    first = source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")
    calls = len(mocked.calls)
    second = source.bars("MES=F", Timeframe.M1, "2025-03-13 14:00", "2025-03-13 15:00")
    assert len(mocked.calls) == calls
    pd.testing.assert_frame_equal(first, second)


def test_daily_bars_are_keyed_by_the_trading_day_open(mocked: responses.RequestsMock) -> None:
    # Yahoo labels daily futures bars at 00:00 New York of the date (04:00 UTC in EDT).
    stamps = [pd.Timestamp("2025-03-11 04:00", tz="UTC"), pd.Timestamp("2025-03-12 04:00", tz="UTC")]
    mocked.get(URL, json=chart_body("MES=F", stamps, [5600.0, 5610.0], interval="1d"))
    source, _ = _source()
    daily = source.bars("MES=F", Timeframe.D1, "2025-03-10 22:00", "2025-03-12 22:00")
    # trading day 2025-03-11 opens 17:00 CT on 03-10 = 22:00 UTC
    assert list(daily.index) == [pd.Timestamp("2025-03-10 22:00", tz="UTC"), pd.Timestamp("2025-03-11 22:00", tz="UTC")]
    assert daily["close"].tolist() == [5600.0, 5610.0]


def test_todays_daily_bar_is_dropped_until_the_close(mocked: responses.RequestsMock) -> None:
    stamps = [pd.Timestamp("2025-03-13 04:00", tz="UTC"), pd.Timestamp("2025-03-14 04:00", tz="UTC")]
    mocked.get(URL, json=chart_body("MES=F", stamps, [5600.0, 5610.0], interval="1d"))
    source, _ = _source(now=pd.Timestamp("2025-03-14 18:00", tz="UTC"))  # 13:00 CT, the day is live
    daily = source.bars("MES=F", Timeframe.D1, "2025-03-12", "2025-03-15")
    assert daily["close"].tolist() == [5600.0]


# --- the parser on its own -----------------------------------------------------------------------


def test_parser_keeps_the_last_of_duplicated_live_rows_and_zero_fills_null_volume() -> None:
    stamps = _minutes("2025-03-13 14:30", 2) + [pd.Timestamp("2025-03-13 14:31", tz="UTC")]
    body = chart_body("ES=F", stamps, [5700.0, 5701.0, 5702.0])
    body["chart"]["result"][0]["indicators"]["quote"][0]["volume"][0] = None
    chart = parse_chart(body, ticker="ES=F")
    assert chart.bars["close"].tolist() == [5700.0, 5702.0]
    assert chart.bars["volume"].tolist() == [0, 120]
    assert chart.exchange_tz == "America/New_York"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([], "no 'chart'"),
        ({"chart": {"result": []}}, "no result"),
        ({"chart": {"result": [{"timestamp": [1, 2], "indicators": {"quote": [{"open": [1, 2]}]}}]}}, "high has no"),
        (
            {
                "chart": {
                    "result": [
                        {
                            "timestamp": ["x"],
                            "indicators": {"quote": [{c: [1] for c in ("open", "high", "low", "close", "volume")}]},
                        }
                    ]
                }
            },
            "timestamps",
        ),
    ],
)
def test_parser_refuses_broken_layouts(body: object, match: str) -> None:
    with pytest.raises(ProviderError, match=match) as info:
        parse_chart(body, ticker="ES=F")
    assert info.value.kind == "payload"


def test_parser_reports_chart_error() -> None:
    with pytest.raises(ProviderError, match="Invalid input") as info:
        parse_chart(chart_error("Bad Request", "Invalid input - interval=7m is not supported"), ticker="ES=F")
    assert info.value.kind == "request"


def test_four_hour_bars_are_built_from_hours(mocked: responses.RequestsMock) -> None:
    hours = list(pd.date_range("2025-03-10 22:00", periods=8, freq="1h", tz="UTC"))  # 17:00..01:00 CT
    mocked.get(URL, json=chart_body("MES=F", hours, [5700.0 + i for i in range(8)], interval="60m"))
    source, _ = _source()
    bars = source.bars("MES=F", Timeframe.H4, "2025-03-10 22:00", "2025-03-11 06:00")
    assert list(bars.index) == [pd.Timestamp("2025-03-10 22:00", tz="UTC"), pd.Timestamp("2025-03-11 02:00", tz="UTC")]
    assert bars["close"].tolist() == [5703.0, 5707.0]
    assert np.all(bars["volume"] == 480)


def test_the_fake_chart_reads_the_same_through_yfinance(
    mocked: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded layout is faithful: yfinance itself parses it to the same bars as our client."""
    import re

    monkeypatch.setenv("YF_DISABLE_CURL_CFFI", "1")
    yf = pytest.importorskip("yfinance")
    yf.set_tz_cache_location(str(tmp_path / "yf"))
    now = pd.Timestamp.now(tz="UTC")
    stamps = _minutes(str((now - pd.Timedelta(days=2)).floor("1D").tz_localize(None) + pd.Timedelta(hours=14)), 3)
    body = chart_body("MES=F", stamps, [5700.0, 5701.0, 5702.0])
    mocked.get(re.compile(re.escape(URL) + r".*"), json=body)
    cookie = "A3=d=AQAB; Expires=Wed, 21 Oct 2099 07:28:00 GMT; Domain=.yahoo.com; Path=/"
    mocked.get(re.compile(r"https://fc\.yahoo\.com/?"), body="", headers={"Set-Cookie": cookie})
    mocked.get(re.compile(re.escape(CRUMB_URL) + r".*"), body="crumb123")
    theirs = yf.Ticker("MES=F", session=requests.Session()).history(
        start=stamps[0] - pd.Timedelta(minutes=30),
        end=stamps[-1] + pd.Timedelta(minutes=30),
        interval="1m",
        prepost=False,
        auto_adjust=False,
        raise_errors=True,
    )
    source, _ = _source(now=now)
    ours = source.bars(
        "MES=F", Timeframe.M1, stamps[0] - pd.Timedelta(minutes=30), stamps[-1] + pd.Timedelta(minutes=30)
    )
    assert list(theirs.index.tz_convert("UTC")) == list(ours.index)
    for mine, yours in (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close"), ("volume", "Volume")):
        assert ours[mine].tolist() == theirs[yours].tolist()
