"""Text columns made with Arrow's take equal the frame constructor's column of the same Python strings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk import frames
from mesdesk.frames import joined_text_column, text_column


@pytest.fixture(params=["pandas default", "objects"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both stores of text: pandas' own (Arrow-backed on pandas 3) and objects (pandas 2's default)."""
    if request.param == "objects":
        monkeypatch.setattr(frames, "arrow_text_dtype", lambda: None)
    return str(request.param)


def check(got: object, objects: np.ndarray, mode: str) -> None:
    """With pandas' store, the frame's column equals the constructor's of the strings; with objects, the
    column is that object array itself (what the constructor keeps where text stays objects)."""
    if mode == "objects" or not any(isinstance(v, str) for v in objects):
        assert isinstance(got, np.ndarray)
        assert got.dtype == object
        assert got.tolist() == objects.tolist()
        return
    column = pd.DataFrame({"x": got})["x"]
    want = pd.DataFrame({"x": objects})["x"]
    pd.testing.assert_series_equal(column, want)
    assert column.dtype == want.dtype
    assert column.isna().sum() == sum(v is None for v in objects)


@pytest.mark.parametrize("labels", [["orb_retest_go", "ema20_pullback", "vwap_rejection"], ["", "sl", None, "tp"]])
def test_text_column_is_the_constructors_column(mode: str, labels: list[str | None]) -> None:
    codes = np.random.default_rng(3).integers(0, len(labels), 500)
    objects = np.array(labels, dtype=object)[codes]
    check(text_column(labels, codes), objects, mode)
    check(text_column(labels, np.zeros(0, dtype=np.int64)), objects[:0], mode)
    if None in labels:  # rows of None only: objects, as the constructor keeps them
        nothing = np.full(7, labels.index(None))
        check(text_column(labels, nothing), np.array(labels, dtype=object)[nothing], mode)


def test_joined_text_column_is_the_constructors_column_of_the_joined_strings(mode: str) -> None:
    left, right = ["2025-06-10", "2025-06-11"], ["T08:31:00", "T15:00:59", "T23:59:59"]
    rng = np.random.default_rng(4)
    lc, rc = rng.integers(0, 2, 300), rng.integers(0, 3, 300)
    objects = np.array(left, dtype=object)[lc] + np.array(right, dtype=object)[rc]
    check(joined_text_column(left, lc, right, rc), objects, mode)
    check(joined_text_column(left, lc[:0], right, rc[:0]), objects[:0], mode)
