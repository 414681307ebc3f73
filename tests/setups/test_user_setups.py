"""User setups: loaded from a file or a module, checked against the contract, one clear error otherwise."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.candidates import CANDIDATE_COLUMNS
from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.errors import ConfigError
from mesdesk.setups.registry import resolve_setups
from mesdesk.setups.scalper import detect_candidates
from mesdesk.setups.user import SetupError

HEADER = 'import pandas as pd\nimport numpy as np\nMIN = pd.Timedelta(minutes=1)\nD = pd.DataFrame\nL = "long"\n'


@pytest.fixture(scope="module", name="bars")
def fixture_bars() -> pd.DataFrame:
    return generate_days(3, SyntheticConfig(seed=11))


def setup_file(tmp_path: Path, body: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def detect(path: Path, bars: pd.DataFrame, fn: str = "setup", params: tuple[str, ...] = ()) -> pd.DataFrame:
    return resolve_setups([f"{path}:{fn}"], params).detect(bars)


def test_user_candidates_get_the_schema_context_and_prefilter(tmp_path: Path, bars: pd.DataFrame) -> None:
    # Long at the close of bars 1000 and 1500; bar 1500 also short with a score of its own.
    path = setup_file(
        tmp_path,
        """
        def setup(bars, every=500, lean=1.5):
            picks = bars.index[[1000, 1500, 1500]]
            return pd.DataFrame({
                "ts": picks + MIN,
                "direction": ["long", "short", "long"],
                "level": [bars["close"].iloc[1000] - 1.0, np.nan, np.nan],
                "lean": [lean, -lean, 0.0],
            })
        """,
    )
    frame = detect(path, bars, params=("setup.lean=2",))
    assert tuple(frame.columns) == (*CANDIDATE_COLUMNS, "lean")
    assert frame["bar_index"].tolist() == [1000, 1500, 1500]
    assert frame["direction"].tolist() == ["long", "long", "short"]  # long before short at one bar
    assert frame["lean"].tolist() == [2.0, 0.0, -2.0]
    assert frame["ref_entry"].iloc[0] == bars["close"].iloc[1000]
    assert frame["setup_level"].iloc[0] == bars["close"].iloc[1000] - 1.0
    assert (frame["setup_type"] == "setup").all()
    assert frame["ts"].dtype == "datetime64[ns, UTC]"
    pf = frame[[c for c in frame.columns if c.startswith("pf_")]].sum(axis=1)
    np.testing.assert_allclose(frame["prefilter_score"], pf)  # scored by the prefilter's components
    assert (frame["passed_prefilter"] == (frame["prefilter_score"] >= 75.0)).all()


def test_user_candidate_at_the_same_bar_as_a_builtin_shares_its_context(tmp_path: Path, bars: pd.DataFrame) -> None:
    builtin = detect_candidates(bars).iloc[0]
    path = setup_file(
        tmp_path,
        f"""
        def setup(bars):
            ts = pd.Timestamp("{builtin["ts"].isoformat()}")
            return pd.DataFrame({{"ts": [ts], "direction": ["{builtin["direction"]}"]}})
        """,
    )
    row = detect(path, bars).iloc[0]
    assert np.isfinite(builtin["atr_5m"])
    for column in ("volume_multiple", "atr_5m", "session_label", "trading_day", "timestamp_ct", "dist_vwap_atr"):
        assert row[column] == builtin[column] or (pd.isna(row[column]) and pd.isna(builtin[column])), column


def test_a_score_column_replaces_the_prefilter(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = setup_file(
        tmp_path,
        """
        def setup(bars):
            return pd.DataFrame({"ts": bars.index[[900, 950]] + MIN, "direction": "short", "score": [80, 40.5]})
        """,
    )
    frame = detect(path, bars, params=())
    assert frame["prefilter_score"].tolist() == [80.0, 40.5]
    assert frame["passed_prefilter"].tolist() == [True, False]
    assert frame["pf_trend"].isna().all()


def test_builtins_and_user_setups_merge_in_time_order(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = setup_file(
        tmp_path,
        """
        def setup(bars):
            return pd.DataFrame({"ts": bars.index[::97] + MIN, "direction": "long"})
        """,
    )
    builtin = detect_candidates(bars)
    frame = resolve_setups(["ORB_retest_go", "EMA20_pullback", "VWAP_rejection", f"{path}:setup"]).detect(bars)
    assert len(frame) == len(builtin) + len(bars.index[::97])
    assert frame["ts"].is_monotonic_increasing
    pd.testing.assert_frame_equal(
        frame[frame["setup_type"] != "setup"].reset_index(drop=True), builtin, check_index_type=False
    )


def test_module_spec_loads_a_function_from_a_package(
    tmp_path: Path, bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "my_setups_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    setup_file(
        package,
        """
        def every_hour(bars, minute=0):
            hit = (bars.index.minute == minute)
            return pd.DataFrame({"ts": bars.index[hit] + MIN, "direction": "long"})
        """,
        name="hourly.py",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    frame = resolve_setups(["my_setups_pkg.hourly:every_hour"], ["every_hour.minute=5"]).detect(bars)
    assert len(frame) > 0
    assert (pd.DatetimeIndex(frame["ts"]).minute == 6).all()


# ---------------------------------------------------------------- bad user code: one clear error


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match=r"file .*nope\.py not found"):
        resolve_setups([f"{tmp_path / 'nope.py'}:setup"])


def test_function_not_found(tmp_path: Path) -> None:
    path = setup_file(tmp_path, "def other(bars):\n    return None\n")
    with pytest.raises(SetupError, match="has no function 'setup'"):
        resolve_setups([f"{path}:setup"])


def test_module_not_found() -> None:
    with pytest.raises(SetupError, match="module 'no_such_pkg_xyz' not found"):
        resolve_setups(["no_such_pkg_xyz.setups:fn"])


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = setup_file(tmp_path, "def setup(bars):\n    return (\n", name="broken.py")
    with pytest.raises(SetupError, match=r"loading .*broken\.py failed: SyntaxError: .* at .*broken\.py:\d+"):
        resolve_setups([f"{path}:setup"])


def test_exception_inside_the_setup_names_it_and_its_own_line(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = setup_file(
        tmp_path,
        """
        def helper(x):
            return x["no_such_column"]

        def setup(bars):
            return helper(bars)
        """,
        name="raising.py",
    )
    # HEADER is 5 lines and the dedented body starts with a blank line: `return x[...]` is line 8.
    with pytest.raises(
        SetupError, match=r"setup setup \(.*raising\.py:setup\) raised KeyError: .* at .*raising\.py:8$"
    ):
        detect(path, bars)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("def setup(bars):\n    return [1, 2]\n", "returned list; expected a pandas DataFrame"),
        ("def setup(bars):\n    return D({'ts': bars.index[:1] + MIN})\n", r"lacks column\(s\) direction"),
        (
            "def setup(bars):\n    return D({'ts': (bars.index[:1] + MIN).tz_localize(None), 'direction': L})\n",
            "ts is naive",
        ),
        (
            "def setup(bars):\n    return D({'ts': (bars.index[:1] + MIN).tz_convert('US/Central'), 'direction': L})\n",
            "ts is in time zone US/Central; give UTC",
        ),
        (
            "def setup(bars):\n    return D({'ts': ['2025-01-01'], 'direction': L})\n",
            "ts must be a column of UTC datetimes",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[:2] + MIN, 'direction': ['long', 'buy']})\n",
            r"direction 'buy' at row 1 .*expected 'long' or 'short'",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[:1], 'direction': L})\n",
            "is timed before the first bar closed",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[-1:] + 2 * MIN, 'direction': L})\n",
            "is after the data ends",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[5:6] + MIN / 2, 'direction': L})\n",
            "is not the close of any bar",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[[5, 5]] + MIN, 'direction': L})\n",
            "two long candidates at",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[:1] + MIN, 'direction': L, 'score': 120})\n",
            "score 120.0 at row 0 is outside 0..100",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[:1] + MIN, 'direction': L, 'note': 'x'})\n",
            "column 'note' must be numeric",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[:1] + MIN, 'direction': L, 'atr_5m': 1.0})\n",
            "column 'atr_5m' is computed by mesdesk",
        ),
        (
            "def setup(bars):\n    return D({'ts': bars.index[:1] + MIN, 'direction': L, 'ref_entry': np.nan})\n",
            "ref_entry is not a finite number at row 0",
        ),
        (
            "def setup(bars, k):\n    return None\n",
            r"parameter\(s\) k have no default; give --setup-param setup\.k=VALUE",
        ),
    ],
)
def test_broken_result_is_one_clear_error(tmp_path: Path, bars: pd.DataFrame, body: str, message: str) -> None:
    path = setup_file(tmp_path, body)
    with pytest.raises(SetupError, match=message) as caught:
        detect(path, bars)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("setup setup (")


def test_setup_errors_are_config_errors_for_the_cli() -> None:
    assert issubclass(SetupError, ConfigError)


def test_user_setup_cannot_take_a_builtin_name(tmp_path: Path) -> None:
    path = setup_file(tmp_path, "def VWAP_rejection(bars):\n    return None\n")
    with pytest.raises(ConfigError, match="is a built-in name"):
        resolve_setups([f"{path}:VWAP_rejection"])


def test_unknown_user_param_lists_the_known_ones(tmp_path: Path) -> None:
    path = setup_file(tmp_path, "def setup(bars, k=3, j=1.0):\n    return None\n")
    with pytest.raises(ConfigError, match=r"setup has no parameter 'x' \(it has: k, j\)"):
        resolve_setups([f"{path}:setup"], ["setup.x=1"])
    with pytest.raises(ConfigError, match="expected int like 3"):
        resolve_setups([f"{path}:setup"], ["setup.k=abc"])


def test_setup_gets_a_copy_of_the_bars(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = setup_file(
        tmp_path,
        """
        def setup(bars):
            bars["close"] = 0.0
            return pd.DataFrame({"ts": bars.index[:1] + MIN, "direction": "long"})
        """,
    )
    before = bars["close"].copy()
    detect(path, bars)
    pd.testing.assert_series_equal(bars["close"], before)


def test_an_empty_frame_means_no_candidates(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = setup_file(tmp_path, "def setup(bars):\n    return pd.DataFrame([])\n")
    frame = detect(path, bars)
    assert len(frame) == 0
    assert tuple(frame.columns) == CANDIDATE_COLUMNS


def test_candidates_without_bars_are_refused(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = setup_file(
        tmp_path,
        "def setup(bars):\n    return D({'ts': [pd.Timestamp('2025-03-03 15:00', tz='UTC')], 'direction': L})\n",
    )
    with pytest.raises(SetupError, match="the data holds no bars"):
        detect(path, bars.iloc[:0])
