"""The chart's read model and endpoints: CT wall times across DST, marker kinds, stop paths, input checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mesdesk.api import create_app
from mesdesk.config import load_settings
from mesdesk.engine.config import BracketConfig, ExecutionConfig
from mesdesk.pathbars import PathBars
from mesdesk.services import chart, chart_data
from mesdesk.services.paper import RunnerOptions
from mesdesk.services.service import BadRequest
from mesdesk.timeframes import Timeframe

CT = ZoneInfo("America/Chicago")


def _wall(t: int) -> datetime:
    """Wall seconds back to the wall clock they encode (as a UTC-labelled datetime: the label means nothing)."""
    return datetime.fromtimestamp(t, UTC)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("2025-03-07T14:30:00Z", "2025-03-10T13:30:00Z"),  # spring forward on Sunday 2025-03-09
        ("2025-10-31T13:30:00Z", "2025-11-03T14:30:00Z"),  # fall back on Sunday 2025-11-02
    ],
)
def test_the_rth_open_reads_0830_ct_on_both_sides_of_a_dst_change(before: str, after: str) -> None:
    index = pd.DatetimeIndex([before, after])
    walls = chart_data.wall_seconds(index, CT)
    assert [_wall(int(t)).strftime("%H:%M") for t in walls] == ["08:30", "08:30"]
    assert chart_data.ct_text(pd.Timestamp(after).to_pydatetime(), CT).endswith("08:30:00")


def test_the_sunday_evening_open_on_the_spring_change_day_is_1700_ct() -> None:
    ts = datetime(2025, 3, 9, 22, 0, tzinfo=UTC)  # 17:00 CDT, the first session after the change
    assert _wall(chart_data.wall_of(ts, CT)) == datetime(2025, 3, 9, 17, 0, tzinfo=UTC)


AWKWARD_INSTANTS = (
    "2025-03-09T07:59:59Z",  # 01:59:59 CST, the last second before the spring change
    "2025-03-09T08:00:00Z",  # 03:00:00 CDT
    "2025-11-02T06:30:00Z",  # 01:30 CDT ...
    "2025-11-02T07:30:00Z",  # ... and 01:30 CST an hour later, the same wall clock
    "2025-11-02T07:30:59.999999Z",  # a fraction of a second: the texts truncate it
    "1970-01-01T00:00:00Z",
)


@pytest.mark.parametrize("zone", ["America/Chicago", "Europe/London", "Australia/Lord_Howe"])
def test_clock_columns_equal_the_per_instant_fields_across_dst_changes_and_nat(zone: str) -> None:
    tz = ZoneInfo(zone)
    index = pd.DatetimeIndex([*AWKWARD_INSTANTS, None], dtype="datetime64[ns, UTC]")
    one_by_one = [
        (chart_data.wall_of(ts, tz), chart_data.iso_utc(ts), chart_data.ct_text(ts, tz))
        for ts in (pd.Timestamp(text).to_pydatetime() for text in AWKWARD_INSTANTS)
    ]
    assert list(zip(*chart_data.clock_columns(index, tz), strict=True)) == [*one_by_one, (None, None, None)]


def test_clock_columns_read_both_fall_back_0130s_as_0130_ct() -> None:
    index = pd.DatetimeIndex(list(AWKWARD_INSTANTS[2:5]))
    t, ts, ct = chart_data.clock_columns(index, CT)
    assert ct == ["2025-11-02 01:30:00", "2025-11-02 01:30:00", "2025-11-02 01:30:59"]
    assert ts == ["2025-11-02T06:30:00Z", "2025-11-02T07:30:00Z", "2025-11-02T07:30:59Z"]
    assert [_wall(x).strftime("%H:%M:%S") for x in t if x is not None] == ["01:30:00", "01:30:00", "01:30:59"]


def test_trade_and_candidate_clocks_equal_their_one_by_one_fields() -> None:
    entries = pd.DatetimeIndex(["2025-03-09T07:59:00Z", "2025-11-02T07:30:00Z", "2025-11-02T06:59:00Z"])
    exits = pd.DatetimeIndex(["2025-03-09T08:01:00Z", None, "2025-11-02T07:00:00Z"], dtype="datetime64[ns, UTC]")
    one_by_one = [
        chart_data.trade_clock(a.to_pydatetime(), None if pd.isna(b) else b.to_pydatetime(), CT)
        for a, b in zip(entries, exits, strict=True)
    ]
    clocks = chart_data.trade_clocks(entries, exits, CT)
    assert clocks == one_by_one
    assert clocks[1]["exit_t"] is clocks[1]["exit_ts"] is clocks[1]["exit_ct"] is None  # still open
    # the exit at 07:00Z (01:00 CST after the fall back) sits on the bar of 01:59:59 CDT, the second before
    assert _wall(clocks[2]["exit_t"]).strftime("%H:%M:%S") == "01:59:59"
    span = timedelta(minutes=5)
    assert chart_data.candidate_clocks(entries, span, CT) == [
        chart_data.candidate_clock(a.to_pydatetime(), span, CT) for a in entries
    ]


@pytest.mark.parametrize(
    ("traded", "passed", "decision", "gate", "kind"),
    [
        (True, True, "take", "ok", "taken"),
        (False, False, "not_asked", "below prefilter", "below_prefilter"),
        (False, True, "not_asked", "outside window", "refused"),
        (False, True, "take", "position open", "refused"),
        (False, True, "skip", "ok", "skipped"),
    ],
)
def test_marker_kind_follows_the_journal(traded: bool, passed: bool, decision: str, gate: str, kind: str) -> None:
    assert chart_data.marker_kind(traded=traded, passed_prefilter=passed, decision=decision, gate=gate) == kind


def _bars(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    index = pd.date_range("2025-03-10 14:00", periods=len(rows), freq="1min", tz="UTC", name="ts")
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = 100
    return frame


def test_stop_path_moves_to_breakeven_then_trails_as_the_bracket_walk_does() -> None:
    # Long from 100.00: +0.50 in bar 0 (breakeven), best 101.00 in bar 1 (trail: 101.00 - 0.50 = 100.50),
    # bar 2 trades through the 101.25 target.
    bars = _bars([(100.0, 100.5, 99.75, 100.25), (100.25, 101.0, 100.25, 100.75), (100.75, 101.5, 100.75, 101.25)])
    path = PathBars.from_frame(bars, pd.Timedelta(minutes=1))
    points = chart_data.stop_path(
        path,
        direction=1,
        entry_ts=bars.index[0].to_pydatetime(),
        entry_price=100.0,
        exit_ts=None,
        bracket=BracketConfig(),
        execution=ExecutionConfig(),
    )
    assert [(p["stop"], p["why"]) for p in points] == [(99.25, "initial"), (100.0, "breakeven"), (100.5, "trail")]
    # each move is stamped at the close of the bar that caused it (in force from the next bar)
    assert [pd.Timestamp(p["ts_ns"], tz="UTC").strftime("%H:%M") for p in points] == ["14:00", "14:01", "14:02"]


def test_stop_path_keeps_the_move_before_a_gap_exit_at_the_next_open() -> None:
    # Bar 0 reaches +1.00 (the stop trails to 100.50); bar 1 opens at 100.25, through it: exit at that open.
    bars = _bars([(100.0, 101.0, 99.9, 100.6), (100.25, 100.5, 100.0, 100.25)])
    path = PathBars.from_frame(bars, pd.Timedelta(minutes=1))
    points = chart_data.stop_path(
        path,
        direction=1,
        entry_ts=bars.index[0].to_pydatetime(),
        entry_price=100.0,
        exit_ts=bars.index[1].to_pydatetime(),  # a gap exit is stamped at the open of its bar
        bracket=BracketConfig(),
        execution=ExecutionConfig(),
    )
    assert [(p["stop"], p["why"]) for p in points] == [(99.25, "initial"), (100.5, "trail")]


def test_stop_path_of_a_short_mirrors_the_prices() -> None:
    bars = _bars([(100.0, 100.25, 99.5, 99.75), (99.75, 99.75, 99.0, 99.25)])
    path = PathBars.from_frame(bars, pd.Timedelta(minutes=1))
    points = chart_data.stop_path(
        path,
        direction=-1,
        entry_ts=bars.index[0].to_pydatetime(),
        entry_price=100.0,
        exit_ts=None,
        bracket=BracketConfig(),
        execution=ExecutionConfig(),
    )
    assert [(p["stop"], p["why"]) for p in points][:2] == [(100.75, "initial"), (100.0, "breakeven")]


@pytest.mark.parametrize("text", ["yesterday", "2025-03-10T13:30:00", "2025-13-01T00:00Z"])
def test_since_must_be_an_instant_with_a_zone(text: str) -> None:
    with pytest.raises(BadRequest, match="since="):
        chart.parse_since(text)


def test_indicators_keep_vwap_to_regular_hours_and_ema_over_history() -> None:
    index = pd.date_range("2025-03-10 13:00", periods=90, freq="1min", tz="UTC", name="ts")  # 08:00-09:29 CT
    close = np.linspace(100, 110, len(index))
    bars = pd.DataFrame({"open": close, "high": close + 0.5, "low": close - 0.5, "close": close, "volume": 10}, index)
    frame = chart_data.with_indicators(bars, Timeframe.M1)
    wall = pd.DatetimeIndex(frame.index).tz_convert(CT)
    rth = (wall.hour * 60 + wall.minute) >= 8 * 60 + 30
    assert frame["vwap"][~rth].isna().all()
    assert frame["vwap"][rth].notna().all()
    assert frame["vwap"][rth].iloc[0] == pytest.approx(close[30])  # the first RTH bar's typical price
    five = chart_data.with_indicators(bars, Timeframe.M5)
    assert len(five) == 18
    assert five["ema20"].notna().all()
    rng = chart_data.opening_range(bars, date(2025, 3, 10))
    assert rng is not None
    assert rng["high"] == pytest.approx(close[44] + 0.5)


# ---------------------------------------------------------------- the endpoints


def _settings(tmp: Path) -> object:
    return load_settings(
        MESDESK_DATA_DIR=str(tmp),
        MESDESK_DATABASE_URL=f"sqlite:///{tmp}/chart.sqlite",
        MESDESK_DECIDER="auto",
        OPENAI_API_KEY="",
        ANTHROPIC_API_KEY="",
    )


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/chart/bars?timeframe=2m", "timeframe"),
        ("/chart/bars?since=noon", "since"),
        ("/chart/bars?day=2025-02-30", "day"),
        ("/chart/candidates?day=3/10/2025", "day"),
        ("/chart/candidates?since=2025-03-10", "since"),
        ("/chart/trades?day=tomorrow", "day"),
        ("/chart/scanner?timeframe=4h", "timeframe"),
    ],
)
def test_bad_parameters_are_a_422_naming_them(tmp_path: Path, path: str, param: str) -> None:
    with TestClient(create_app(_settings(tmp_path), RunnerOptions(mode="off"))) as client:  # type: ignore[arg-type]
        res = client.get(path)
    assert res.status_code == 422
    assert res.json()["detail"].startswith(f"{param}=")


def test_without_a_runner_the_chart_is_empty_not_an_error(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path), RunnerOptions(mode="off"))) as client:  # type: ignore[arg-type]
        assert client.get("/chart/bars").json()["bars"] == []
        assert client.get("/chart/candidates").json() == []
        assert client.get("/chart/trades").json()["trades"] == []
        assert client.get("/chart/equity").json() == []
        assert client.get("/chart/poll").json()["last_bar_ts"] is None
        assert client.get("/chart/scanner").json()["signals"] == []


@pytest.fixture(name="replayed", scope="module")
def fixture_replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The synthetic 2025-03-10 (the session that opens on the spring DST change day) replayed to its end."""
    tmp = tmp_path_factory.mktemp("replay")
    options = RunnerOptions(replay_day=date(2025, 3, 10), replay_from_ct=dtime(8, 0), speed=0)
    with TestClient(create_app(_settings(tmp), options)) as client:  # type: ignore[arg-type]
        deadline = time.monotonic() + 180
        while "finished" not in (client.get("/metrics/runner").json().get("paused_reason") or ""):
            assert time.monotonic() < deadline, "replay did not finish"
            time.sleep(0.25)
        yield client


def test_bars_are_the_runners_day_in_ct_with_indicators(replayed: TestClient) -> None:
    body = replayed.get("/chart/bars").json()
    assert body["trading_day"] == "2025-03-10"
    assert body["tz"] == "CT"
    bars = body["bars"]
    assert bars[0]["ts"] == "2025-03-09T22:00:00Z"
    assert _wall(bars[0]["t"]) == datetime(2025, 3, 9, 17, 0, tzinfo=UTC)
    for b in bars:
        ct = pd.Timestamp(b["ts"]).tz_convert(CT).tz_localize(None)
        assert _wall(b["t"]).replace(tzinfo=None) == ct
    rth_open = next(b for b in bars if b["ts"] == "2025-03-10T13:30:00Z")
    assert _wall(rth_open["t"]).strftime("%H:%M") == "08:30"
    assert rth_open["vwap"] is not None
    assert body["bars"][-1]["ts"] <= body["last_bar_ts"]
    rng = body["opening_range"]
    assert rng["start_ts"] == "2025-03-10T13:30:00Z"
    assert rng["high"] >= rng["low"]


def test_since_returns_the_last_bar_again_and_the_newer_ones(replayed: TestClient) -> None:
    full = replayed.get("/chart/bars?timeframe=15m").json()["bars"]
    tail = replayed.get(f"/chart/bars?timeframe=15m&since={full[-3]['ts']}").json()["bars"]
    assert tail == full[-3:]
    assert all(_wall(b["t"]).minute % 15 == 0 for b in full)


def test_every_candidate_is_a_marker_with_its_journal_row(replayed: TestClient) -> None:
    markers = replayed.get("/chart/candidates").json()
    journal = replayed.get("/metrics/journal?date=2025-03-10&limit=1000").json()
    trades = replayed.get("/chart/trades").json()["trades"]
    assert len(markers) == len(journal) > 0
    assert {m["kind"] for m in markers} <= set(chart_data.MARKER_KINDS)
    assert sum(m["kind"] == "taken" for m in markers) == len(trades) > 0
    by_ts = {j["ts"]: j for j in journal}
    for m in markers:
        j = by_ts[m["ts"]]
        assert (m["gate"], m["decision"], m["reason"]) == (j["gate"], j["decision"], j["reason"])
        assert m["ct"].replace(" ", "T") == j["timestamp_ct"]


def test_trades_carry_ct_times_and_the_stop_path_from_the_entry_fill(replayed: TestClient) -> None:
    trades = replayed.get("/chart/trades").json()["trades"]
    metrics = replayed.get("/metrics/trades?date=2025-03-10").json()
    assert len(trades) == len(metrics)
    for t, m in zip(trades, metrics, strict=True):
        assert t["entry_ts"] == m["entry_ts"]
        assert t["entry_ct"] == pd.Timestamp(m["entry_ts"]).tz_convert(CT).strftime("%Y-%m-%d %H:%M:%S")
        sign = 1 if t["direction"] == "long" else -1
        first = t["stops"][0]
        assert first["why"] == "initial"
        assert first["stop"] == pytest.approx(t["entry_price"] - sign * 0.75)
        assert t["target"] == pytest.approx(t["entry_price"] + sign * 1.25)


def test_equity_has_the_drawdown_from_the_running_peak(replayed: TestClient) -> None:
    points = replayed.get("/chart/equity").json()
    assert points
    peak = 0.0
    for p in points:
        peak = max(peak, p["equity_pts"])
        assert p["drawdown_pts"] == pytest.approx(p["equity_pts"] - peak)


def test_scanner_runs_on_the_runners_bars(replayed: TestClient) -> None:
    signals = []
    for tf in chart.SCANNER_TIMEFRAMES:
        body = replayed.get(f"/chart/scanner?timeframe={tf}").json()
        assert body["timeframe"] == tf
        assert body["bars"]
        assert body["bars"][-1]["ts"] <= body["last_bar_ts"]
        signals += body["signals"]
    assert signals  # the synthetic week holds measured moves
    for s in signals:
        assert s["a_t"] <= s["b_t"] <= s["c_t"]
        assert s["confirmed_at"] <= body["last_bar_ts"].replace("Z", "+00:00")
        assert isinstance(s["vix_filter_passed"], bool)


@pytest.mark.parametrize(
    "path",
    [
        "/chart/bars?day=1900-01-01",
        "/chart/bars?day=2025-03-07&timeframe=15m",
        "/chart/bars?since=2999-01-01T00:00:00Z",
        "/chart/bars?since=1970-01-01T00:00:00%2B00:00&timeframe=5m",
        "/chart/candidates?day=2025-03-11",
        "/chart/candidates?since=2999-01-01T00:00:00Z",
        "/chart/trades?day=2025-03-07",
    ],
)
def test_odd_but_valid_parameters_answer_without_a_server_error(replayed: TestClient, path: str) -> None:
    res = replayed.get(path)
    assert res.status_code == 200, res.text


def test_rounded_equals_pythons_round_next_to_halves_and_on_exact_ties() -> None:
    rng = np.random.default_rng(7)
    halves = (rng.integers(-(10**10), 10**10, 20_000) + 0.5) / 1e4  # products land within an ulp of a half
    near = [halves]
    for _ in range(3):
        near += [np.nextafter(near[-1], np.inf)]
    values = np.concatenate(
        [
            *near,
            np.nextafter(halves, -np.inf),
            np.arange(-200, 200) / 32,  # exact binary ties: 0.03125 -> 0.0312 (half to even)
            5000 + rng.normal(0, 40, 20_000),
            [0.0, -0.0, -1e-300, np.nan, np.inf, -np.inf, 2.0**60],
        ]
    )
    got = chart_data.rounded(values, 4)
    want = [None if v != v else round(v, 4) for v in values.tolist()]
    assert got == want
    assert [np.copysign(1, v) for v in got if v == 0] == [np.copysign(1, v) for v in want if v == 0]
    # ties go to the even digit; 1.00005 is stored a little above the half, so it goes up
    assert chart_data.rounded(np.array([0.03125, 0.09375, 1.00005]), 4) == [0.0312, 0.0938, 1.0001]
