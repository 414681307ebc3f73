"""Text columns built as the frame constructor would store them, without its pass over Python strings.

pandas 3 stores a column of Python strings as its Arrow-backed ``str`` dtype: the constructor checks
every object and copies it into Arrow (about 0.35 ms for 8,600 rows, a column). A column that picks
each row's text from a few labels (a setup, a direction, a session label, a journal's decision) is
made here with Arrow's ``take`` of the labels (about 0.05 ms), to the same dtype and values; `None`
becomes the missing value, as the constructor makes it. Where pandas keeps text as objects (pandas 2
without its future string option), and where no row holds text (no rows, or None only), the column is
the object array the constructor would have kept. tests/foundation/test_frames.py holds both equal to
the constructor's column.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd


@lru_cache(maxsize=1)
def arrow_text_dtype() -> pd.StringDtype | None:
    """The dtype pandas gives a column of Python strings when it is Arrow-backed, else None (objects)."""
    dtype = pd.Series(np.array(["a", None], dtype=object)).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None


def text_column(labels: Sequence[str | None], codes: np.ndarray) -> Any:
    """``np.array(labels, dtype=object)[codes]`` as a frame column: the Arrow-backed array pandas would
    make of it, built with Arrow's take, or that object array where pandas keeps objects."""
    dtype = arrow_text_dtype()
    if dtype is None or not _any_text(labels, codes):  # no text in the rows: the constructor keeps objects
        return np.array(list(labels), dtype=object)[codes]
    import pyarrow as pa

    return pd.array(pa.array(list(labels), type=pa.large_string()).take(np.asarray(codes, dtype=np.int64)), dtype=dtype)


def _any_text(labels: Sequence[str | None], codes: np.ndarray) -> bool:
    """Whether some row's label is a string (rows of None only, or no rows, the constructor keeps as objects)."""
    if len(codes) == 0:
        return False
    used = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(labels))
    return any(label is not None and count for label, count in zip(labels, used.tolist(), strict=False))


def joined_text_column(
    left: Sequence[str], left_codes: np.ndarray, right: Sequence[str], right_codes: np.ndarray
) -> Any:
    """``left[left_codes] + right[right_codes]`` (each an object array of strings) as a frame column, as
    `text_column` makes one: each row's text is two labels joined."""
    dtype = arrow_text_dtype()
    if dtype is None or len(left_codes) == 0:
        joined: np.ndarray = np.array(list(left), dtype=object)[left_codes]
        return joined + np.array(list(right), dtype=object)[right_codes]
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pa.array(list(left), type=pa.large_string()).take(np.asarray(left_codes, dtype=np.int64))
    b = pa.array(list(right), type=pa.large_string()).take(np.asarray(right_codes, dtype=np.int64))
    return pd.array(pc.binary_join_element_wise(a, b, pa.scalar("", type=pa.large_string())), dtype=dtype)
