"""The scan end to end: timeframes from base bars, VIX columns, truncation, CSV, payload, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.calendar import trading_days
from mesdesk.cli import main
from mesdesk.config import load_settings
from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.data.vix import _trading_days_fast, synthetic_vix
from mesdesk.errors import ConfigError
from mesdesk.services.scan import ScanRequest, run_scan, signals_payload, write_signals_csv
from mesdesk.setups.measured_move import MeasuredMoveConfig
from mesdesk.setups.measured_move_outcomes import OUTCOME_COLUMNS
from mesdesk.setups.measured_move_scan import (
    CSV_COLUMNS,
    RESOLVED,
    ScanConfig,
    evaluate,
    scan_bars,
    timeframe_bars,
)
from mesdesk.timeframes import SCAN_TIMEFRAMES, Timeframe

from .test_measured_move import random_walk_bars

SEED_CSV_COLUMNS = [  # the seed's CSV, spelled out
    "timeframe",
    "direction",
    "a_time",
    "a_price",
    "b_time",
    "b_price",
    "c_time",
    "c_price",
    "confirmed_at",
    "retrace_pct",
    "entry",
    "stop",
    "target_100",
    "target_123_6",
    "rr",
    "vix",
    "vix_filter_passed",
    "volume_confirmed",
    "outcome",
    "outcome_at",
    "mfe",
    "mae",
]


@pytest.fixture(name="minute_bars", scope="module")
def fixture_minute_bars() -> pd.DataFrame:
    return random_walk_bars(6 * 1440, seed=5, freq="1min")


def flat_vix(value: float) -> pd.Series:
    return pd.Series([value] * 40, index=pd.date_range("2025-02-20", periods=40, freq="D"))


def test_csv_columns_are_the_seeds_in_order() -> None:
    assert list(CSV_COLUMNS) == SEED_CSV_COLUMNS


def test_scan_builds_each_timeframe_from_minute_bars(minute_bars: pd.DataFrame) -> None:
    config = ScanConfig(timeframes=(Timeframe.M5, Timeframe.M15, Timeframe.H1))
    sig = scan_bars(minute_bars, config, flat_vix(17.0))
    assert set(sig["timeframe"]) == {"5m", "15m", "1h"}
    assert sig["confirmed_at"].is_monotonic_increasing
    assert (sig["confirmed_at"] > sig["c_time"]).all()
    assert sig["retrace_pct"].between(50.0, 61.8 + 1e-6).all()
    assert (sig["rr"] >= 2.0 - 1e-9).all()
    longs = sig["direction"] == "long"
    assert (sig.loc[longs, "stop"] == sig.loc[longs, "c_price"] - 0.25).all()
    assert (sig.loc[~longs, "stop"] == sig.loc[~longs, "c_price"] + 0.25).all()
    # VIX 17: longs pass (<= 18), shorts are filtered (< 16 is not the case... 17 >= 16 passes too)
    assert sig["vix_filter_passed"].all()
    assert (sig["entry_at"].dropna() >= sig.loc[sig["entry_at"].notna(), "confirmed_at"]).all()
    sig_low = scan_bars(minute_bars, config, flat_vix(15.0))
    assert (sig_low["vix_filter_passed"] == (sig_low["direction"] == "long")).all()


@pytest.mark.parametrize("cut_minutes", [2500, 4000, 7000])
def test_scan_rows_known_by_a_cutoff_do_not_change_when_later_bars_arrive(
    minute_bars: pd.DataFrame, cut_minutes: int
) -> None:
    config = ScanConfig(timeframes=(Timeframe.M5, Timeframe.M15, Timeframe.H1), rules=MeasuredMoveConfig(swing_order=3))

    full = scan_bars(minute_bars, config, synthetic_vix(minute_bars))
    part_bars = minute_bars.iloc[:cut_minutes]
    part = scan_bars(part_bars, config, synthetic_vix(part_bars))
    cutoff = part_bars.index[-1] + pd.Timedelta(minutes=1)
    known = full[full["confirmed_at"] <= cutoff].reset_index(drop=True)
    signal_cols = [c for c in part.columns if c not in OUTCOME_COLUMNS]  # entry and expiry need later bars
    assert len(part) == len(known) > 0
    pd.testing.assert_frame_equal(part[signal_cols], known[signal_cols])
    final = (part["resolved_at"] <= cutoff).to_numpy()
    assert final.any()
    # a final outcome never changes; expiry_at itself is only known once the window's last bar exists
    same = [c for c in part.columns if c != "expiry_at"]
    part_final = part.loc[final, same].reset_index(drop=True)
    pd.testing.assert_frame_equal(part_final, known.loc[final, same].reset_index(drop=True))


def test_volume_requirement_keeps_only_confirmed_signals(minute_bars: pd.DataFrame) -> None:
    loose = scan_bars(minute_bars, ScanConfig(timeframes=(Timeframe.M5,)), flat_vix(17.0))
    strict_cfg = ScanConfig(timeframes=(Timeframe.M5,), rules=MeasuredMoveConfig(require_volume_confirmation=True))
    strict = scan_bars(minute_bars, strict_cfg, flat_vix(17.0))
    assert 0 < len(strict) < len(loose)
    assert strict["volume_confirmed"].all()
    pd.testing.assert_frame_equal(strict, loose[loose["volume_confirmed"]].reset_index(drop=True))


def test_evaluation_counts_rates_and_interval(minute_bars: pd.DataFrame) -> None:
    sig = scan_bars(minute_bars, ScanConfig(timeframes=(Timeframe.M5,)), flat_vix(17.0))
    ev = evaluate(sig, (Timeframe.M5, Timeframe.D1)).set_index("timeframe")
    res = sig[sig["outcome"].isin(RESOLVED)]
    row = ev.loc["5m"]
    assert row["signals"] == len(sig)
    assert row["resolved"] == len(res)
    assert row["stop_rate"] == pytest.approx((res["outcome"] == "stop").mean())
    assert row["expectancy_pts"] == pytest.approx(res["pnl_pts"].mean())
    assert row["ci95_low_pts"] < row["expectancy_pts"] < row["ci95_high_pts"]
    assert ev.loc["1d", "signals"] == 0
    assert np.isnan(ev.loc["1d", "expectancy_pts"])


def write_bars_csv(bars: pd.DataFrame, path: Path) -> None:
    out = bars.copy()
    out.insert(0, "ts_utc", out.index.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out.to_csv(path, index=False)


def test_cli_scan_writes_the_csv_and_evaluates(
    minute_bars: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars_file = tmp_path / "bars.csv"
    write_bars_csv(minute_bars, bars_file)
    vix_file = tmp_path / "vix.csv"
    vix_file.write_text("observation_date,VIXCLS\n" + "".join(f"2025-03-{d:02d},17.5\n" for d in range(1, 15)))
    out_csv = tmp_path / "signals.csv"
    argv = ["scan", "--source", "file", "--file", str(bars_file), "--vix-file", str(vix_file), "--csv", str(out_csv),
            "--timeframes", "5m,15m", "--evaluate", "--last-n", "3"]  # fmt: skip
    main(argv)  # returns normally on success (errors exit with code 2)
    shown = capsys.readouterr().out
    assert "5m:" in shown
    assert "Evaluation" in shown
    assert "VIX: file" in shown
    written = pd.read_csv(out_csv)
    assert list(written.columns[: len(SEED_CSV_COLUMNS)]) == SEED_CSV_COLUMNS
    assert set(written["timeframe"]) <= {"5m", "15m"}
    assert (written["vix"] == 17.5).all()


def test_cli_refuses_file_source_without_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan", "--source", "file"])
    assert exc.value.code == 2
    assert "--file" in capsys.readouterr().err


def test_cli_refuses_unknown_timeframe(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan", "--source", "file", "--file", "x.csv", "--timeframes", "7m"])
    assert exc.value.code == 2
    assert "--timeframes='7m'" in capsys.readouterr().err


def test_signals_payload_is_json_ready_for_one_timeframe(minute_bars: pd.DataFrame, tmp_path: Path) -> None:
    request = ScanRequest(source="file", file=tmp_path / "unused.csv")
    payload = signals_payload("15m", request=request, bars=minute_bars)
    assert payload
    assert {p["timeframe"] for p in payload} == {"15m"}
    first = payload[0]
    assert list(first)[: len(SEED_CSV_COLUMNS)] == SEED_CSV_COLUMNS
    assert first["confirmed_at"].endswith("+00:00")
    json.dumps(payload, allow_nan=False)
    with pytest.raises(ConfigError, match="timeframe"):
        signals_payload("1m", request=request, bars=minute_bars)


def test_written_csv_round_trips_times_as_utc(minute_bars: pd.DataFrame, tmp_path: Path) -> None:
    result = run_scan(ScanRequest(config=ScanConfig(timeframes=(Timeframe.M15,))), bars=minute_bars)
    path = tmp_path / "s.csv"
    write_signals_csv(result.signals, path)
    back = pd.read_csv(path)
    assert len(back) == len(result.signals)
    assert pd.to_datetime(back["confirmed_at"], utc=True).tolist() == result.signals["confirmed_at"].tolist()


def test_chained_resampling_equals_resampling_the_base_directly() -> None:
    # two weeks of minutes across the 2025-03-09 DST change, with a gap (a missing hour)
    bars = random_walk_bars(14 * 1440, seed=3, freq="1min")
    bars = bars.drop(bars.index[3000:3060])
    chain = timeframe_bars(bars, SCAN_TIMEFRAMES, pd.Timedelta(minutes=1))
    # the walk runs round the clock: the scanner leaves out its 16:00-17:00 CT minutes (after the close)
    session = bars[bars.index.asi8 < bin_close_ns(pd.DatetimeIndex(bars.index), Timeframe.D1)]
    for tf in SCAN_TIMEFRAMES:
        direct = resample(session, tf, source_span=pd.Timedelta(minutes=1))
        whole = direct[direct.index >= bars.index[0]]  # the walk starts 18:00 CT: the first 4h/1d bins are partial
        pd.testing.assert_frame_equal(chain[tf], whole, check_freq=False)


def test_synthetic_vix_trading_days_match_the_calendar_across_dst() -> None:
    bars = random_walk_bars(14 * 1440, seed=3, freq="1min")
    index = pd.DatetimeIndex(bars.index)
    assert (_trading_days_fast(index) == trading_days(index)).all()


def test_default_source_is_the_synthetic_market_with_a_synthetic_vix() -> None:
    request = ScanRequest(days_back=6, config=ScanConfig(timeframes=(Timeframe.M5,)))
    result = run_scan(request, load_settings(FRED_API_KEY=None))
    assert result.bars_from == "synthetic (seed 7)"
    assert result.vix_from.startswith("synthetic")
    assert result.first_bar.tz is not None
    again = run_scan(request, load_settings(FRED_API_KEY=None))
    pd.testing.assert_frame_equal(result.signals, again.signals)  # deterministic by seed


def test_fred_vixcls_is_used_when_a_key_is_set(
    minute_bars: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesdesk.data import fred

    asked: list[tuple[str, object, object]] = []

    def fake_series(self: fred.FredClient, series_id: str, start: object = None, end: object = None) -> pd.Series:
        asked.append((series_id, start, end))
        return flat_vix(19.0).rename("VIXCLS")

    monkeypatch.setattr(fred.FredClient, "series", fake_series)
    request = ScanRequest(source="file", file=tmp_path / "unused.csv", config=ScanConfig(timeframes=(Timeframe.M5,)))
    result = run_scan(request, load_settings(FRED_API_KEY="k"), bars=minute_bars)
    assert result.vix_from == "FRED VIXCLS"
    assert asked[0][0] == "VIXCLS"
    assert (result.signals["vix"] == 19.0).all()
    assert (result.signals["vix_filter_passed"] == (result.signals["direction"] == "short")).all()


def test_cli_flags_reach_the_rules(minute_bars: pd.DataFrame, tmp_path: Path) -> None:
    bars_file = tmp_path / "bars.csv"
    write_bars_csv(minute_bars, bars_file)
    out_csv = tmp_path / "signals.csv"
    main(["scan", "--source", "file", "--file", str(bars_file), "--csv", str(out_csv), "--timeframes", "5m",
          "--swing-order", "3", "--min-rr", "3", "--require-volume-confirmation", "--max-hold-bars", "20"])  # fmt: skip
    written = pd.read_csv(out_csv, parse_dates=["confirmed_at", "expiry_at"])
    assert len(written) > 0
    assert (written["rr"] >= 3).all()
    assert written["volume_confirmed"].all()
    known = written.dropna(subset=["expiry_at"])
    assert ((known["expiry_at"] - known["confirmed_at"]) >= pd.Timedelta(minutes=100)).all()
    c_to_conf = pd.to_datetime(written["confirmed_at"]) - pd.to_datetime(written["c_time"])
    assert (c_to_conf == pd.Timedelta(minutes=20)).all()  # 3 bars after C's bar opened: its close + 15 min


@pytest.mark.parametrize(
    ("source", "days", "symbol", "base"),
    [("databento", 90, "MES.c.0", "1m"), ("yahoo", 20, "MES=F", "1m"), ("yahoo", 45, "MES=F", "5m")],
)
def test_provider_sources_are_asked_for_base_bars_over_days_back(
    minute_bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, source: str, days: int, symbol: str, base: str
) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from mesdesk.data.registry import SOURCES
    from mesdesk.services import scan as scan_service

    asked: list[tuple[str, Timeframe, pd.Timestamp, pd.Timestamp]] = []

    class FakeSource:
        def bars(self, sym: str, tf: Timeframe, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
            asked.append((sym, tf, start, end))
            return minute_bars.assign(symbol=sym)

    monkeypatch.setitem(SOURCES._entries, source, replace(SOURCES.get(source), open=lambda ctx: FakeSource()))
    now = datetime(2025, 3, 9, 0, 0, tzinfo=UTC)
    request = ScanRequest(source=source, days_back=days)
    bars, origin = scan_service.load_scan_bars(request, load_settings(), now)
    sym, tf, start, end = asked[0]
    assert sym == SOURCES.get(source).symbol("MES")
    assert symbol.split(".")[0] in sym
    assert tf.value == base
    assert end - start == pd.Timedelta(days=days)
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert origin == f"{source} {sym}"


@pytest.mark.parametrize("first", ["2025-06-30", "2025-11-24"], ids=["july-3-early-close", "thanksgiving"])
def test_chained_resampling_holds_across_holidays_and_early_closes(first: str) -> None:
    from datetime import date, timedelta

    from mesdesk.data.synthetic import SyntheticConfig, generate_bars

    start = date.fromisoformat(first)
    bars = generate_bars(start, start + timedelta(days=8), SyntheticConfig(seed=3))
    chain = timeframe_bars(bars, SCAN_TIMEFRAMES, pd.Timedelta(minutes=1))
    for tf in SCAN_TIMEFRAMES:
        direct = resample(bars, tf, source_span=pd.Timedelta(minutes=1))
        pd.testing.assert_frame_equal(chain[tf], direct, check_freq=False)
