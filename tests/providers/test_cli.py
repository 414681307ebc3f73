"""`mesdesk data ...` end to end against the fakes: tables on success, one line and exit 2 on failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import responses

from mesdesk.cli import main

from .conftest import FakeServer, json_reply
from .dbn import GET_COST, GET_RANGE, RESOLVE, dbn_bytes, minute_rows, resolve_body
from .yahoo_fake import CHART, chart_body


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("DATABENTO_API_KEY", "FRED_API_KEY", "MESDESK_FRED_SERIES", "MESDESK_FRED_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.fixture(name="mocked")
def fixture_mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str) -> str:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("source", "variable"),
    [("databento", "DATABENTO_API_KEY"), ("fred", "FRED_API_KEY")],
)
def test_missing_key_names_the_variable(source: str, variable: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["data", "fetch", "--source", source, "--start", "2025-03-10", "--end", "2025-03-11"], capsys)
    assert variable in _one_line_error(code, err)


def test_databento_fetch_prints_a_summary_and_caches(
    mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", "db-" + "k" * 29)
    # 15:58-15:59 CT, the maintenance break, 17:00-17:01 CT (CDT)
    rows = minute_rows("2025-03-10 20:58", [5700.0, 5700.25]) + minute_rows("2025-03-10 22:00", [5702.0, 5702.5])
    mocked.add(responses.POST, GET_COST, json=0.02)
    mocked.add(responses.POST, GET_RANGE, body=dbn_bytes(rows))
    mocked.add(responses.POST, RESOLVE, body=resolve_body({42: "MESM5"}))
    argv = ["data", "fetch", "--source", "databento", "--start", "2025-03-10", "--end", "2025-03-11"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "4" in out
    assert "MESM5" in out
    assert "2025-03-10 20:58" in out
    calls = len(mocked.calls)
    code, out2, _ = _run(argv, capsys)
    assert code == 0
    assert len(mocked.calls) == calls  # served from the cache
    assert "served from the cache" in out2
    assert "estimated cost $0.02" in out
    code, listing, _ = _run(["data", "ls"], capsys)
    assert code == 0
    assert "databento" in listing
    assert "MES.c.0" in listing


def test_databento_bad_key_is_one_line(
    mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", "db-" + "k" * 29)
    mocked.add(responses.POST, GET_COST, json={"detail": "Authentication failed."}, status=401)
    code, _, err = _run(
        ["data", "fetch", "--source", "databento", "--start", "2025-03-10", "--end", "2025-03-11"], capsys
    )
    line = _one_line_error(code, err)
    assert line.startswith("error: databento:")
    assert "DATABENTO_API_KEY refused" in line


def test_databento_cost_over_limit_is_one_line(
    mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", "db-" + "k" * 29)
    mocked.add(responses.POST, GET_COST, json=7.5)
    argv = ["data", "fetch", "--source", "databento", "--start", "2025-03-10", "--end", "2025-03-11", "--max-cost", "1"]
    code, _, err = _run(argv, capsys)
    assert "above --max-cost $1.00" in _one_line_error(code, err)


def test_fred_fetch_against_a_local_server(
    fake_server: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRED_API_KEY", "f" * 32)
    monkeypatch.setenv("MESDESK_FRED_BASE_URL", fake_server.base_url)
    obs = [{"date": "2025-03-10", "value": "27.86"}, {"date": "2025-03-11", "value": "."}]
    fake_server.handler = lambda path, q: json_reply({"count": 2, "observations": obs})
    code, out, err = _run(
        ["data", "fetch", "--source", "fred", "--series", "VIXCLS,DFF", "--start", "2025-03-10"], capsys
    )
    assert code == 0, err
    assert "VIXCLS" in out
    assert "27.86" in out
    assert sorted(q["series_id"] for _, q in fake_server.requests) == ["DFF", "VIXCLS"]


def test_fred_server_error_is_one_line(
    fake_server: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRED_API_KEY", "f" * 32)
    monkeypatch.setenv("MESDESK_FRED_BASE_URL", fake_server.base_url)
    fake_server.handler = lambda path, q: json_reply({"error_message": "Bad Request.  The series does not exist."}, 400)
    code, _, err = _run(["data", "fetch", "--source", "fred", "--series", "NOPE"], capsys)
    assert "series does not exist" in _one_line_error(code, err)


def test_yahoo_fetch_and_its_history_limit(mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]) -> None:
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=3)).floor("1D") + pd.Timedelta(hours=14)
    stamps = list(pd.date_range(start, periods=3, freq="1min"))
    mocked.get(CHART.format("MES=F"), json=chart_body("MES=F", stamps, [5700.0, 5701.0, 5702.0]))
    end = start + pd.Timedelta(hours=1)
    argv = ["data", "fetch", "--source", "yahoo", "--start", start.isoformat(), "--end", end.isoformat()]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert f"{start:%Y-%m-%d %H:%M}" in out
    code, _, err = _run(["data", "fetch", "--source", "yahoo", "--start", "2020-01-01", "--end", "2020-01-02"], capsys)
    assert "last 30 days" in _one_line_error(code, err)


def test_import_a_file_then_list_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "es_1m.csv"
    idx = pd.date_range("2025-03-10 09:30", periods=5, freq="1min")
    pd.DataFrame(
        {"datetime": idx.strftime("%Y-%m-%d %H:%M"), "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10}
    ).to_csv(path, index=False)
    code, out, err = _run(["data", "import", str(path), "--tz", "America/New_York"], capsys)
    assert code == 0, err
    assert "2025-03-10 13:30" in out  # 09:30 EDT in UTC
    code, listing, _ = _run(["data", "ls"], capsys)
    assert "file" in listing
    assert "es_1m" in listing


def test_import_naive_file_without_tz_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(
        "datetime,open,high,low,close,volume\n2025-03-10 09:30,1,2,0.5,1.5,10\n2025-03-10 09:31,1,2,0.5,1.5,10\n"
    )
    code, _, err = _run(["data", "import", str(path)], capsys)
    assert "naive.csv" in _one_line_error(code, err)


def test_validate_daily_from_a_file_against_yahoo(
    mocked: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two trading days of hourly bars (CDT): days 2025-03-11 and 2025-03-12.
    frames = []
    for day_open in ("2025-03-10 22:00", "2025-03-11 22:00"):
        idx = pd.date_range(day_open, periods=23, freq="1h", tz="UTC")
        frames.append(
            pd.DataFrame(
                {
                    "ts_utc": idx.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "open": 100.0,
                    "high": 101.0,
                    "low": 99.0,
                    "close": 100.0,
                    "volume": 5,
                }
            )
        )
    path = tmp_path / "hours.csv"
    pd.concat(frames).to_csv(path, index=False)
    daily = [pd.Timestamp("2025-03-11 04:00", tz="UTC"), pd.Timestamp("2025-03-12 04:00", tz="UTC")]
    body = chart_body("MES=F", daily, [100.0, 103.0], interval="1d")
    for q in body["chart"]["result"][0]["indicators"]["quote"]:
        q["open"], q["high"], q["low"] = [100.0, 100.0], [101.0, 103.0], [99.0, 99.0]
    mocked.get(CHART.format("MES=F"), body=json.dumps(body))
    code, out, err = _run(["data", "validate-daily", "--file", str(path), "--tolerance", "0.5"], capsys)
    assert code == 0, err
    assert "days differing: 1" in out
    assert "2025-03-12" in out


def test_empty_answer_is_one_line(
    mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", "db-" + "k" * 29)
    mocked.add(responses.POST, GET_COST, json=0.0)
    mocked.add(responses.POST, GET_RANGE, body=dbn_bytes([]))
    argv = ["data", "fetch", "--source", "databento", "--start", "2025-03-08", "--end", "2025-03-09"]
    code, _, err = _run(argv, capsys)
    assert "no 1m bars for MES.c.0" in _one_line_error(code, err)


def test_yahoo_rate_limit_is_one_line_after_retries(
    mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mesdesk.data.yahoo.time.sleep", lambda s: None)
    mocked.get(CHART.format("MES=F"), body="Too Many Requests", status=429)
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)).floor("1D")
    argv = [
        "data",
        "fetch",
        "--source",
        "yahoo",
        "--start",
        start.isoformat(),
        "--end",
        (start + pd.Timedelta(hours=2)).isoformat(),
    ]
    code, _, err = _run(argv, capsys)
    line = _one_line_error(code, err)
    assert "rate limited" in line
    assert "gave up after 4 attempts" in line
    assert len(mocked.calls) == 4


def test_bad_fred_base_url_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRED_API_KEY", "f" * 32)
    monkeypatch.setenv("MESDESK_FRED_BASE_URL", "not a url")
    code, _, err = _run(["data", "fetch", "--source", "fred", "--series", "VIXCLS"], capsys)
    line = _one_line_error(code, err)
    assert "request failed" in line
    assert "f" * 32 not in line


def test_import_of_the_real_es_minutes_reports_fillers(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_data / "ES_1m_2025-09-15_2025-10-10.csv"
    if not path.exists():
        pytest.skip(f"{path} absent")
    code, out, err = _run(["data", "import", str(path), "--placeholders", "drop"], capsys)
    assert code == 0, err
    assert "27546" in out  # 27,603 bars less the 57 fillers the README lists
    assert "57 placeholder bars" in out
    assert "2025-09-14 22:00" in out  # Sunday 17:00 CT open


def test_estimate_prints_the_cost_and_downloads_nothing(
    mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", "db-" + "k" * 29)
    mocked.add(responses.POST, GET_COST, json=3.21)
    argv = ["data", "fetch", "--source", "databento", "--start", "2025-03-10", "--end", "2025-03-11", "--estimate"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "$3.21" in out
    assert [c.request.url for c in mocked.calls] == [GET_COST]
