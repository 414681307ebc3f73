"""Shared fixtures: small bar factories; no network anywhere."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that is not to the loopback interface."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(name="chromium")
def fixture_chromium() -> str:
    """The headless Chromium of the browser tests (MESDESK_CHROMIUM, else on PATH); the test is skipped without it."""
    wanted = os.environ.get("MESDESK_CHROMIUM", "/usr/bin/chromium")
    path = wanted if os.path.exists(wanted) else shutil.which("chromium")
    if not path:
        pytest.skip(f"no Chromium at {wanted} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    return path


@pytest.fixture(name="screenshots")
def fixture_screenshots(tmp_path: Path) -> Path:
    """Where a browser test saves its screenshots: MESDESK_SCREENSHOT_DIR (to look at them), else its tmp_path."""
    folder = Path(os.environ.get("MESDESK_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_bars(
    start: str,
    closes: list[float] | np.ndarray,
    *,
    freq: str = "1min",
    spread: float = 0.25,
    volume: int = 100,
) -> pd.DataFrame:
    """Bars from a list of closes: open = previous close, high/low = max/min +- spread (UTC start)."""
    c = np.asarray(closes, dtype=float)
    o = np.concatenate(([c[0]], c[:-1]))
    idx = pd.date_range(start, periods=len(c), freq=freq, tz="UTC", name="ts").as_unit("ns")
    return pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(o, c) + spread,
            "low": np.minimum(o, c) - spread,
            "close": c,
            "volume": np.full(len(c), volume, dtype=np.int64),
        },
        index=idx,
    )


REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(name="shared_data")
def fixture_shared_data() -> Path:
    """The real ES bars folder beside the checkout (`../shared/data`); skips cleanly when absent."""
    folder = Path(os.environ.get("MESDESK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not folder.is_dir():
        pytest.skip(f"real bars not present at {folder}")
    return folder


@pytest.fixture(name="es_1m_and_5m", scope="session")
def fixture_es_1m_and_5m() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real ES 1m file through the file source, as 1m bars and as 5m bars (skips when absent)."""
    from mesdesk.config import Settings
    from mesdesk.data.registry import HistoryRequest
    from mesdesk.services.root import Root
    from mesdesk.timeframes import Timeframe

    file = Path(os.environ.get("MESDESK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    file = file / "ES_1m_2025-09-15_2025-10-10.csv"
    if not file.exists():
        pytest.skip(f"real bars not present at {file}")
    root = Root(Settings(_env_file=None))
    one = root.history("file", HistoryRequest(timeframe=Timeframe.M1, placeholders="drop"), file=file)
    five = root.history("file", HistoryRequest(timeframe=Timeframe.M5, placeholders="drop"), file=file)
    return one, five
