"""The trial store writes rows exactly as the csv module would and reads back what it wrote."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from mesdesk.research.results import DAILY_FIELDS, ConfigSums, TrialStore


def test_daily_rows_are_the_csv_modules_bytes_and_read_back(tmp_path: Path) -> None:
    days = np.arange("2025-03-03", "2025-03-08", dtype="datetime64[D]")
    rng = np.random.default_rng(5)
    sf = np.vstack([rng.normal(0, 1, 5), [2, 0, 1, 3, 0], rng.random(5), rng.random(5)])
    tf = sf.copy()
    tf[0, 3] += 0.25
    sums = ConfigSums(sf, tf)
    key = 'setup.x.name=a,b "c";bracket.tp_pts=1.25'  # a comma and quotes: the key must be quoted
    store = TrialStore(tmp_path, {"test": 1}, days)
    store.add(key, sums, 0.5)
    want = io.StringIO()
    w = csv.writer(want)
    w.writerow(DAILY_FIELDS)
    for i in (0, 2, 3):  # the days with a trade
        a, b = sf[:, i], tf[:, i]
        w.writerow(
            [key, str(days[i]), repr(float(a[0])), int(a[1]), repr(float(a[2])), repr(float(a[3]))]
            + [repr(float(b[0])), int(b[1]), repr(float(b[2])), repr(float(b[3]))]
        )
    assert (tmp_path / "daily.csv").read_bytes() == want.getvalue().encode()
    again = TrialStore(tmp_path, {"test": 1}, days).finished[key]
    assert np.array_equal(again.stop_first[:, [0, 2, 3]], sf[:, [0, 2, 3]])
    assert np.array_equal(again.target_first[:, [0, 2, 3]], tf[:, [0, 2, 3]])
