"""`mesdesk lookahead`: a setup that reads later bars is flagged; the built-ins and the scanner pass."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.data.files import load_bars
from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.services.lookahead import choose_cuts, lookahead_scanner, lookahead_setups
from mesdesk.setups.registry import resolve_setups
from mesdesk.setups.user import SetupError
from mesdesk.timeframes import Timeframe

PEEKING = """
import pandas as pd

def peeks(bars, jump=0.75):
    # Reads the NEXT bar's close: with the data cut after the candidate's bar the candidate is gone.
    nxt = bars["close"].shift(-1)
    hit = (nxt > bars["close"] + jump).to_numpy()
    return pd.DataFrame({"ts": bars.index[hit] + pd.Timedelta(minutes=1), "direction": "long"})

def day_high_feature(bars):
    # Honest timing, but a feature from the whole day's high: it changes when the day is cut.
    day = bars.index.tz_convert("America/Chicago").date
    high = bars.groupby(day)["high"].transform("max")
    picks = bars.index[::240]
    return pd.DataFrame({
        "ts": picks + pd.Timedelta(minutes=1),
        "direction": "short",
        "day_high": high.loc[picks].to_numpy(),
    })

def moving(bars):
    # The day's first close above the day's mean close: with the day cut, the mean and the bar move.
    day = bars.index.tz_convert("America/Chicago").date
    above = bars["close"] > bars.groupby(day)["close"].transform("mean")
    first = above[above].groupby(day[above.to_numpy()]).head(1).index
    return pd.DataFrame({"ts": first + pd.Timedelta(minutes=1), "direction": "long"})

def needs_a_day(bars):
    # Breaks on short data: a user bug that only a cut reveals.
    if len(bars) < 5000:
        raise ValueError("not enough bars")
    return pd.DataFrame({"ts": bars.index[-1:] + pd.Timedelta(minutes=1), "direction": "long"})

def last_bar(bars):
    # A candidate on whatever bar is last: it appears at every cut and is gone once later bars exist.
    return pd.DataFrame({"ts": bars.index[-1:] + pd.Timedelta(minutes=1), "direction": "long"})
"""


@pytest.fixture(scope="module", name="bars")
def fixture_bars() -> pd.DataFrame:
    return generate_days(6, SyntheticConfig(seed=5))


@pytest.fixture(name="peek_file")
def fixture_peek_file(tmp_path: Path) -> Path:
    path = tmp_path / "peek.py"
    path.write_text(textwrap.dedent(PEEKING))
    return path


def test_builtins_pass_on_synthetic_bars(bars: pd.DataFrame) -> None:
    report = lookahead_setups(bars, resolve_setups(), Timeframe.M1, cuts=25, seed=1)
    assert report.candidates > 20
    assert report.cuts >= 25
    assert report.compared > report.candidates  # most candidates are compared at several cuts
    assert report.clean, report.leaks[:3]


def test_a_setup_reading_the_next_bar_is_flagged(bars: pd.DataFrame, peek_file: Path) -> None:
    report = lookahead_setups(bars, resolve_setups([f"{peek_file}:peeks"]), Timeframe.M1, cuts=10, seed=1)
    assert not report.clean
    # Every sampled candidate is cut right after its own bar, where its next bar is missing.
    sampled = {leak.ts for leak in report.leaks if leak.cut == leak.ts}
    assert len(sampled) == 10
    assert all(leak.change.startswith("vanishes") for leak in report.leaks)
    assert all(leak.name == "peeks" for leak in report.leaks)


def test_a_feature_computed_from_later_bars_is_flagged_with_the_column(bars: pd.DataFrame, peek_file: Path) -> None:
    setups = resolve_setups([f"{peek_file}:day_high_feature"])
    report = lookahead_setups(bars, setups, Timeframe.M1, cuts=10, seed=2)
    changed = [leak for leak in report.leaks if leak.change.startswith("day_high: ")]
    assert changed
    assert " -> " in changed[0].change


def test_a_candidate_placed_with_hindsight_moves_when_the_day_is_cut(bars: pd.DataFrame, peek_file: Path) -> None:
    report = lookahead_setups(bars, resolve_setups([f"{peek_file}:moving"]), Timeframe.M1, cuts=10, seed=5)
    moved = [leak for leak in report.leaks if leak.change.startswith("moves to ")]
    assert moved
    for leak in moved:  # "moves to YYYY-MM-DD HH:MM CT ...": known by the cut too
        moved_to = pd.Timestamp(" ".join(leak.change.split()[2:4])).tz_localize("America/Chicago")
        assert leak.change.split()[4] == "CT"
        assert moved_to <= leak.cut


def test_a_candidate_on_the_last_bar_appears_only_on_cut_data(bars: pd.DataFrame, peek_file: Path) -> None:
    report = lookahead_setups(bars, resolve_setups([f"{peek_file}:last_bar"]), Timeframe.M1, cuts=5, seed=3)
    assert report.candidates == 1
    appeared = [leak for leak in report.leaks if leak.change.startswith("appears")]
    assert len(appeared) == report.cuts - 1  # every cut but the one at the last bar
    assert all(leak.ts == leak.cut for leak in appeared)


def test_a_setup_failing_on_cut_data_names_the_cut(bars: pd.DataFrame, peek_file: Path) -> None:
    with pytest.raises(
        SetupError, match=r"raised ValueError: not enough bars at .*peek\.py:\d+ \(on the bars up to .* CT\)"
    ):
        lookahead_setups(bars, resolve_setups([f"{peek_file}:needs_a_day"]), Timeframe.M1, cuts=3, seed=0)


def test_scanner_passes_on_synthetic_bars(bars: pd.DataFrame) -> None:
    report = lookahead_scanner(bars, cuts=8, seed=1)
    assert report.candidates > 0
    assert report.compared > 0
    assert report.clean, report.leaks[:3]


def test_cuts_hold_sampled_candidates_and_even_and_random_closes() -> None:
    closes = np.arange(0, 1000, dtype=np.int64) * 60
    known = closes[[10, 20, 30, 40]]
    cuts = choose_cuts(closes, known, 3, seed=0)
    assert np.isin(cuts, closes).all()
    assert np.isin(known, cuts).sum() == 3  # a sample of 3 of the 4 candidates
    assert len(cuts) <= 3 + 2 + 2
    assert (np.diff(cuts) > 0).all()
    np.testing.assert_array_equal(cuts, choose_cuts(closes, known, 3, seed=0))  # seeded


def test_cli_exits_1_with_a_table_on_a_leak(peek_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lookahead", "--setup", f"{peek_file}:peeks", "--days", "2", "--cuts", "5"])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "cut (CT)" in out
    assert "vanishes" in out


def test_cli_exits_0_on_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    main(["lookahead", "--days", "3", "--cuts", "10"])
    out = capsys.readouterr().out
    assert "clean" in out
    assert "ORB_retest_go" in out


def test_cli_bad_user_code_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.py"
    path.write_text("def setup(bars):\n    return 1 / 0\n")
    with pytest.raises(SystemExit) as exc:
        main(["lookahead", "--setup", f"{path}:setup", "--days", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "raised ZeroDivisionError: division by zero at" in err
    assert err.endswith("bad.py:2")


def test_cli_refuses_scanner_with_setups(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lookahead", "--scanner", "--setup", "ORB_retest_go"])
    assert exc.value.code == 2
    assert "--scanner" in capsys.readouterr().err


# ---------------------------------------------------------------- real ES bars (skipped when absent)


def _real(shared_data: Path, name: str, days: int) -> pd.DataFrame:
    bars = load_bars(shared_data / name, placeholders="drop")
    start = bars.index[-1] - pd.Timedelta(days=days)
    return bars[bars.index >= start]


def test_builtins_pass_on_real_one_minute_bars(shared_data: Path) -> None:
    bars = _real(shared_data, "ES_1m_2025-09-15_2025-10-10.csv", days=12)
    report = lookahead_setups(bars, resolve_setups(), Timeframe.M1, cuts=30, seed=4)
    assert report.candidates > 20
    assert report.clean, report.leaks[:3]


def test_builtins_pass_on_real_five_minute_bars(shared_data: Path) -> None:
    bars = _real(shared_data, "ES_5m_2026-02-17_2026-04-28.csv", days=30)
    report = lookahead_setups(bars, resolve_setups(), Timeframe.M5, cuts=30, seed=4)
    assert report.candidates > 10
    assert report.clean, report.leaks[:3]


def test_scanner_passes_on_real_five_minute_bars(shared_data: Path) -> None:
    bars = _real(shared_data, "ES_5m_2026-02-17_2026-04-28.csv", days=40)
    report = lookahead_scanner(bars, cuts=15, seed=4)
    assert report.candidates > 0
    assert report.clean, report.leaks[:3]
