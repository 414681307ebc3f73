"""Macro from FRED: the four series through FredClient (a local server speaking FRED's JSON), point-in-time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from mesdesk.config import load_settings
from mesdesk.forecast.macro import MACRO_SERIES, fred_macro
from mesdesk.services.forecast import ForecastCache, ForecastRequest, forecast_payload

from .conftest import session_bars

LEVELS = {"VIXCLS": 21.5, "DFF": 4.33, "DTWEXBGS": 121.0, "DEXCHUS": 7.25}


@pytest.fixture(name="fred_url")
def fixture_fred_url() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
            seen.append(query)
            start = date.fromisoformat(query["observation_start"])
            end = date.fromisoformat(query["observation_end"])
            days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
            level = LEVELS[query["series_id"]]
            obs = [
                {"date": d.isoformat(), "value": "." if d.weekday() >= 5 else f"{level + 0.01 * i:.4f}"}
                for i, d in enumerate(days)
            ]
            body = json.dumps({"count": len(obs), "observations": obs}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, date | None, date | None]] = []

    def series(self, series_id: str, start: date | None = None, end: date | None = None) -> pd.Series:
        self.calls.append((series_id, start, end))
        return pd.Series([1.0], index=pd.DatetimeIndex([pd.Timestamp(start)], name="date"), name=series_id)


def test_fred_macro_asks_for_the_four_series_with_a_lookback_margin() -> None:
    client = FakeClient()
    macro = fred_macro(client, date(2025, 3, 10), date(2025, 4, 10))
    assert [c[0] for c in client.calls] == list(MACRO_SERIES.values())
    assert all(c[1] == date(2025, 2, 8) and c[2] == date(2025, 4, 10) for c in client.calls)
    assert macro.source == "fred"


def test_payload_uses_fred_when_the_key_is_set(fred_url: tuple[str, list[dict[str, str]]], tmp_path: Path) -> None:
    url, seen = fred_url
    bars = session_bars(25)
    path = tmp_path / "bars.csv"
    bars.rename_axis("ts_utc").reset_index().to_csv(path, index=False)
    settings = load_settings(FRED_API_KEY="a" * 32, MESDESK_FRED_BASE_URL=url, MESDESK_DATA_DIR=str(tmp_path))
    request = ForecastRequest(source="file", file=path, horizons=("60m", "4h"))
    out = forecast_payload("quant", request=request, settings=settings, cache=ForecastCache(0))
    assert out["diagnostics"]["macro_source"] == "fred"
    assert sorted(q["series_id"] for q in seen) == sorted(MACRO_SERIES.values())
    # DFF dated D is usable from D+2 00:00 New York; weekend dates are "." (missing) on the fake
    as_of_ny = pd.Timestamp(out["as_of"]).tz_convert("America/New_York")
    last_usable = as_of_ny.date() - timedelta(days=2)
    while last_usable.weekday() >= 5:
        last_usable -= timedelta(days=1)
    dff_query = next(q for q in seen if q["series_id"] == "DFF")
    i = (last_usable - date.fromisoformat(dff_query["observation_start"])).days
    assert out["features_last_row"]["fed_rates"] == pytest.approx(4.33 + 0.01 * i)
