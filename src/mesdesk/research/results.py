"""Trial results streamed to disk as each configuration finishes, so a killed sweep resumes.

Files under the output folder:
- ``sweep.json``: what the sweep runs on (data fingerprint, day axis); a folder holding another
  sweep's data is refused rather than mixed;
- ``daily.csv``: one row per (configuration, trading day with a trade): stop-first and target-first
  net points, trades, gains and losses;
- ``configs.csv``: one row per finished configuration, written after its daily rows. A configuration
  is finished only when it is here; daily rows of an unfinished one (a kill between the two writes)
  are dropped when the folder is opened again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mesdesk.errors import ConfigError

DAILY_FIELDS = ("key", "day", "net", "trades", "gains", "losses", "net_tf", "trades_tf", "gains_tf", "losses_tf")
CONFIG_FIELDS = ("key", "trades", "trades_tf", "seconds")


@dataclass(frozen=True)
class ConfigSums:
    """One configuration's per-day sums: rows net, trades, gains, losses (stop-first, then target-first)."""

    stop_first: np.ndarray  # shape (4, days)
    target_first: np.ndarray  # shape (4, days)


def _read_rows(path: Path, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """Complete rows only: a line cut short by a kill has fewer fields and is skipped."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return []
        if tuple(header) != fields:
            raise ConfigError(f"{path}: unexpected columns {header}")
        return [dict(zip(fields, row, strict=True)) for row in reader if len(row) == len(fields)]


class TrialStore:
    """The sweep's folder: finished configurations and their daily sums; appends as trials finish.

    `finished` holds what the folder held when it was opened (the sweep takes each out as it reuses
    it); a configuration added in this run is written, not kept, so memory does not hold it twice.
    """

    def __init__(self, folder: Path, meta: Mapping[str, Any], days: np.ndarray) -> None:
        self.folder = folder
        self.days = days
        self._labels: list[str] = days.astype("datetime64[D]").astype(str).tolist()
        self._day_pos = {d: i for i, d in enumerate(self._labels)}
        folder.mkdir(parents=True, exist_ok=True)
        meta_path = folder / "sweep.json"
        if meta_path.exists():
            old = json.loads(meta_path.read_text())
            if old != json.loads(json.dumps(meta)):
                changed = sorted(k for k in set(old) | set(meta) if old.get(k) != meta.get(k))
                raise ConfigError(
                    f"--out {folder}: holds a sweep of other data or settings ({', '.join(changed)} differ); "
                    "use a new folder"
                )
        else:
            meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
        self.finished: dict[str, ConfigSums] = self._load()
        self._compact()

    def _load(self) -> dict[str, ConfigSums]:
        keys = [r["key"] for r in _read_rows(self.folder / "configs.csv", CONFIG_FIELDS)]
        n = self.days.size
        out = {k: ConfigSums(np.zeros((4, n)), np.zeros((4, n))) for k in keys}
        for row in _read_rows(self.folder / "daily.csv", DAILY_FIELDS):
            sums = out.get(row["key"])
            pos = self._day_pos.get(row["day"])
            if sums is None or pos is None:
                continue
            try:
                values = [float(row[f]) for f in DAILY_FIELDS[2:]]
            except ValueError:
                continue
            sums.stop_first[:, pos] = values[:4]
            sums.target_first[:, pos] = values[4:]
        return out

    def _compact(self) -> None:
        """Rewrite both files with the finished configurations only (drops a killed trial's partial rows)."""
        with (self.folder / "daily.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(DAILY_FIELDS)
            for key, sums in self.finished.items():
                self._write_daily(fh, key, sums)
        with (self.folder / "configs.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CONFIG_FIELDS)
            for key, sums in self.finished.items():
                w.writerow([key, int(sums.stop_first[1].sum()), int(sums.target_first[1].sum()), ""])

    def _write_daily(self, fh: TextIO, key: str, sums: ConfigSums) -> None:
        """The configuration's rows for the days it traded, as `csv.writer` writes them (one write)."""
        quoted = io.StringIO()
        csv.writer(quoted).writerow([key])  # the key quoted as the csv module would
        prefix = quoted.getvalue()[:-2]
        active = np.flatnonzero((sums.stop_first[1] > 0) | (sums.target_first[1] > 0))
        values = np.vstack([sums.stop_first[:, active], sums.target_first[:, active]]).T.tolist()
        labels = self._labels
        fh.write(
            "".join(
                f"{prefix},{labels[i]},{v[0]!r},{int(v[1])},{v[2]!r},{v[3]!r},{v[4]!r},{int(v[5])},{v[6]!r},{v[7]!r}\r\n"
                for i, v in zip(active.tolist(), values, strict=True)
            )
        )

    def add(self, key: str, sums: ConfigSums, seconds: float) -> None:
        """Record a finished configuration: its daily rows first, then its line in configs.csv."""
        with (self.folder / "daily.csv").open("a", newline="") as fh:
            self._write_daily(fh, key, sums)
            fh.flush()
        with (self.folder / "configs.csv").open("a", newline="") as fh:
            csv.writer(fh).writerow(
                [key, int(sums.stop_first[1].sum()), int(sums.target_first[1].sum()), f"{seconds:.4f}"]
            )
            fh.flush()
