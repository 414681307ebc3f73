"""FRED client against a real HTTP server on 127.0.0.1, and the point-in-time rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.fred import (
    DEFAULT_FRED_SERIES,
    FredClient,
    Publication,
    available_from_utc,
    fred_point_in_time,
)
from mesdesk.data.http import RetryPolicy
from mesdesk.errors import ConfigError, ProviderError

from .conftest import FakeServer, json_reply

KEY = "a" * 32


def _obs(*pairs: tuple[str, str]) -> dict[str, object]:
    rows = [{"realtime_start": "2025-03-20", "realtime_end": "2025-03-20", "date": d, "value": v} for d, v in pairs]
    return {"count": len(rows), "offset": 0, "limit": 100000, "observations": rows}


def _client(fake: FakeServer, *, attempts: int = 3, timeout_s: float = 5.0) -> tuple[FredClient, list[float]]:
    slept: list[float] = []
    client = FredClient(
        KEY,
        fake.base_url,
        policy=RetryPolicy(attempts=attempts, backoff_s=0.5, timeout_s=timeout_s),
        sleep=slept.append,
    )
    return client, slept


def test_series_parses_values_and_dot_as_missing(fake_server: FakeServer) -> None:
    fake_server.handler = lambda path, q: json_reply(
        _obs(("2025-03-07", "23.37"), ("2025-03-10", "27.86"), ("2025-03-11", "."))
    )
    client, _ = _client(fake_server)
    out = client.series("vixcls", "2025-03-07", "2025-03-11")
    assert out.name == "VIXCLS"
    assert list(out.index) == [pd.Timestamp("2025-03-07"), pd.Timestamp("2025-03-10"), pd.Timestamp("2025-03-11")]
    assert out.iloc[0] == pytest.approx(23.37)
    assert np.isnan(out.iloc[2])
    path, query = fake_server.requests[0]
    assert path == "/fred/series/observations"
    assert query["series_id"] == "VIXCLS"
    assert query["api_key"] == KEY
    assert query["file_type"] == "json"
    assert (query["observation_start"], query["observation_end"]) == ("2025-03-07", "2025-03-11")


def test_pages_are_followed_until_count(fake_server: FakeServer) -> None:
    def handler(path: str, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        offset = int(q["offset"])
        days = pd.date_range("2025-01-01", periods=5, freq="D")
        rows = [{"date": d.date().isoformat(), "value": str(i)} for i, d in enumerate(days)][offset : offset + 2]
        return json_reply({"count": 5, "observations": rows})

    fake_server.handler = handler
    client, _ = _client(fake_server)
    out = client.series("DFF")
    assert out.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [q["offset"] for _, q in fake_server.requests] == ["0", "2", "4"]


def test_empty_range_is_a_typed_error_unless_allowed(fake_server: FakeServer) -> None:
    fake_server.handler = lambda path, q: json_reply(_obs())
    client, _ = _client(fake_server)
    with pytest.raises(ProviderError, match="no observations from 2025-03-08 to 2025-03-09") as info:
        client.series("VIXCLS", "2025-03-08", "2025-03-09")
    assert info.value.kind == "empty"
    assert client.series("VIXCLS", "2025-03-08", "2025-03-09", allow_empty=True).empty


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is not registered."}),
        (401, {"error_code": 401, "error_message": "Unauthorized"}),
        (403, {"error_code": 403, "error_message": "Forbidden"}),
    ],
)
def test_bad_key_is_auth_error_without_retry(fake_server: FakeServer, status: int, body: dict[str, object]) -> None:
    fake_server.handler = lambda path, q: json_reply(body, status)
    client, slept = _client(fake_server)
    with pytest.raises(ProviderError) as info:
        client.series("VIXCLS")
    assert info.value.kind == "auth"
    assert KEY not in str(info.value)
    assert len(fake_server.requests) == 1
    assert slept == []


def test_unknown_series_is_a_request_error(fake_server: FakeServer) -> None:
    body = {"error_code": 400, "error_message": "Bad Request.  The series does not exist."}
    fake_server.handler = lambda path, q: json_reply(body, 400)
    client, _ = _client(fake_server)
    with pytest.raises(ProviderError, match="series does not exist") as info:
        client.series("NOPE")
    assert info.value.kind == "request"


def test_429_is_retried_with_backoff_then_succeeds(fake_server: FakeServer) -> None:
    answers = [json_reply({"error_message": "Too Many Requests"}, 429)] * 2 + [json_reply(_obs(("2025-03-10", "1.5")))]
    fake_server.handler = lambda path, q: answers[len(fake_server.requests) - 1]
    client, slept = _client(fake_server)
    assert client.series("DFF").tolist() == [1.5]
    assert slept == [0.5, 1.0]


def test_retry_after_header_is_honoured(fake_server: FakeServer) -> None:
    answers = [json_reply({}, 429, {"Retry-After": "3"}), json_reply(_obs(("2025-03-10", "1.5")))]
    fake_server.handler = lambda path, q: answers[len(fake_server.requests) - 1]
    client, slept = _client(fake_server)
    client.series("DFF")
    assert slept == [3.0]


def test_persistent_429_is_rate_limit_error(fake_server: FakeServer) -> None:
    fake_server.handler = lambda path, q: json_reply({"error_message": "Too Many Requests"}, 429)
    client, slept = _client(fake_server, attempts=3)
    with pytest.raises(ProviderError, match="gave up after 3 attempts") as info:
        client.series("DFF")
    assert info.value.kind == "rate_limit"
    assert len(fake_server.requests) == 3
    assert slept == [0.5, 1.0]


def test_persistent_5xx_is_server_error(fake_server: FakeServer) -> None:
    fake_server.handler = lambda path, q: (503, {"Content-Type": "text/html"}, b"<html>down</html>")
    client, _ = _client(fake_server, attempts=2)
    with pytest.raises(ProviderError, match="HTTP 503") as info:
        client.series("DFF")
    assert info.value.kind == "server"
    assert len(fake_server.requests) == 2


def test_no_answer_is_timeout_error(fake_server: FakeServer) -> None:
    fake_server.delay_s = 0.5
    fake_server.handler = lambda path, q: json_reply(_obs(("2025-03-10", "1.5")))
    client, _ = _client(fake_server, attempts=2, timeout_s=0.1)
    with pytest.raises(ProviderError, match="no answer within 0.1 s") as info:
        client.series("DFF")
    assert info.value.kind == "timeout"


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        ((200, {"Content-Type": "application/json"}, b"{not json"), "not JSON"),
        (json_reply({"seriess": []}), "no 'observations'"),
        (json_reply({"observations": [{"date": "2025-03-10"}]}), "lacks date/value"),
        (json_reply(_obs(("2025-03-10", "n/a"))), "bad value 'n/a' on 2025-03-10"),
        (json_reply(_obs(("10/03/2025", "1.0"))), "bad date"),
    ],
)
def test_malformed_payload_is_payload_error(
    fake_server: FakeServer, reply: tuple[int, dict[str, str], bytes], match: str
) -> None:
    fake_server.handler = lambda path, q: reply
    client, _ = _client(fake_server)
    with pytest.raises(ProviderError, match=match) as info:
        client.series("VIXCLS")
    assert info.value.kind == "payload"


def test_many_aligns_the_default_series(fake_server: FakeServer) -> None:
    fake_server.handler = lambda path, q: json_reply(_obs(("2025-03-10", str(len(q["series_id"])))))
    client, _ = _client(fake_server)
    frame = client.many(DEFAULT_FRED_SERIES, "2025-03-10", "2025-03-10")
    assert list(frame.columns) == ["VIXCLS", "DFF", "DTWEXBGS", "DEXCHUS"]
    assert frame.loc["2025-03-10", "DFF"] == 3.0


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="FRED_API_KEY"):
        FredClient("")


# --- point in time ------------------------------------------------------------------------------


def _vix() -> pd.Series:
    idx = pd.DatetimeIndex(["2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11"], name="date")
    return pd.Series([21.0, 23.0, np.nan, 26.0], index=idx, name="VIXCLS")


def test_daily_value_is_usable_from_next_new_york_midnight() -> None:
    # 2025-03-09 is the US DST change: New York midnight is 05:00 UTC before, 04:00 UTC after.
    at = pd.DatetimeIndex(
        [
            "2025-03-07 04:59:59",  # Fri 23:59:59 ET Thursday: Thursday's close not yet usable
            "2025-03-07 05:00:00",  # Fri 00:00 ET: Thursday's value (21)
            "2025-03-07 21:30:00",  # Fri 16:30 ET: Friday's close printed but the day is not over
            "2025-03-08 05:00:00",  # Sat 00:00 ET: Friday's value (23)
            "2025-03-11 03:59:59",  # Mon 23:59:59 EDT: still Friday's
            "2025-03-11 04:00:00",  # Tue 00:00 EDT: Monday is missing ('.'), Friday's stays
            "2025-03-12 04:00:00",  # Wed 00:00 EDT: Tuesday's value (26)
        ],
        tz="UTC",
    )
    got = fred_point_in_time(_vix(), at)
    np.testing.assert_array_equal(got, [np.nan, 21.0, 21.0, 23.0, 23.0, 23.0, 26.0])


def test_point_in_time_does_not_change_when_later_observations_arrive() -> None:
    at = pd.date_range("2025-03-05", "2025-03-13", freq="37min", tz="UTC")
    full = _vix()
    whole = fred_point_in_time(full, at)
    avail = available_from_utc(pd.DatetimeIndex(full.index), Publication())
    for cut in range(1, len(full)):
        part = fred_point_in_time(full.iloc[:cut], at)
        before = at < avail[cut]
        np.testing.assert_array_equal(part[before], whole[before])


def test_dff_waits_for_the_new_york_fed_release() -> None:
    dff = pd.Series([4.33], index=pd.DatetimeIndex(["2025-03-10"]), name="DFF")
    at = pd.DatetimeIndex(["2025-03-11 14:00", "2025-03-12 03:59", "2025-03-12 04:00"], tz="UTC")
    np.testing.assert_array_equal(fred_point_in_time(dff, at), [np.nan, np.nan, 4.33])


def test_weekly_h10_series_wait_for_wednesday_after_the_week() -> None:
    # Values of Mon 2025-03-10 .. Fri 2025-03-14 come out on Mon 2025-03-17; usable Wed 03-19 00:00 ET.
    idx = pd.date_range("2025-03-10", "2025-03-14", freq="B")
    usd = pd.Series([120.0, 121.0, 122.0, 123.0, 124.0], index=idx, name="DTWEXBGS")
    at = pd.DatetimeIndex(["2025-03-17 22:00", "2025-03-19 03:59", "2025-03-19 04:00"], tz="UTC")
    np.testing.assert_array_equal(fred_point_in_time(usd, at), [np.nan, np.nan, 124.0])


def test_naive_index_is_refused() -> None:
    with pytest.raises(ConfigError, match="timezone-aware"):
        fred_point_in_time(_vix(), pd.DatetimeIndex(["2025-03-10"]))
