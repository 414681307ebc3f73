"""The --param grammar: lists, ranges, types, and one-line errors naming the parameter."""

from __future__ import annotations

from datetime import time

import pytest

from mesdesk.research.evaluate import parameter_kinds
from mesdesk.research.params import config_key, grid, grid_size, parse_param, parse_params

KINDS = parameter_kinds()


def test_list_and_range() -> None:
    assert parse_param("bracket.tp_pts=1,1.25,2", KINDS).values == (1.0, 1.25, 2.0)
    assert parse_param("bracket.tp_pts=1:2:0.25", KINDS).values == (1.0, 1.25, 1.5, 1.75, 2.0)
    assert parse_param("limits.max_trades=2:6:2", KINDS).values == (2, 4, 6)


def test_types_follow_the_parameter() -> None:
    assert parse_param("bracket.breakeven_at_pts=none,0.5", KINDS).values == (None, 0.5)
    assert parse_param("setup.EMA20_pullback.require_slow_ema=true,false", KINDS).values == (True, False)
    assert parse_param("session.rth_a.end=10:00,10:30", KINDS).values == (time(10, 0), time(10, 30))
    values = parse_param("setup.ORB_retest_go.range_minutes=5,15", KINDS).values
    assert values == (5, 15)
    assert all(type(v) is int for v in values)


def test_every_issue_parameter_is_known() -> None:
    for name in (
        "bracket.tp_pts",
        "bracket.sl_pts",
        "bracket.breakeven_at_pts",
        "bracket.trail_after_pts",
        "bracket.trail_distance_pts",
        "limits.max_trades",
        "limits.stop_after_losses",
        "limits.daily_point_stop",
        "prefilter.threshold",
        "decider.threshold",
        "session.rth_b.start",
        "setup.VWAP_rejection.fresh_bars",
    ):
        assert name in KINDS


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"--param bracket\.tp: unknown parameter; valid: .*bracket\.tp_pts"):
        parse_param("bracket.tp=1", KINDS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bracket.tp_pts=", "empty grid"),
        ("bracket.tp_pts=2:1:0.25", "empty range"),
        ("bracket.tp_pts=1:2:0", "step must be > 0"),
        ("bracket.tp_pts=abc", "not a number"),
        ("limits.max_trades=1.5", "not a whole number"),
        ("bracket.tp_pts", "expected NAME="),
    ],
)
def test_bad_values_name_the_parameter(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_param(text, KINDS)


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        parse_params(["bracket.tp_pts=1", "bracket.tp_pts=2"], KINDS)


def test_grid_first_parameter_slowest_and_keys_canonical() -> None:
    specs = parse_params(["bracket.tp_pts=1,2", "bracket.sl_pts=0.5,1,1.5"], KINDS)
    assignments = list(grid(specs))
    assert grid_size(specs) == len(assignments) == 6
    assert [a["bracket.tp_pts"] for a in assignments] == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    assert config_key({"b": 1, "a": None}) == "a=none;b=1"
    assert len({config_key(a) for a in assignments}) == 6
