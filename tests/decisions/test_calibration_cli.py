"""`mesdesk calibration` over a journal file and a store table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.store.base import make_engine


def _journal(n: int = 40) -> pd.DataFrame:
    ts = pd.date_range("2025-01-20 15:00", periods=n, freq="10min", tz="UTC")
    conf = np.where(np.arange(n) % 2 == 0, 90.0, 70.0)
    win = np.arange(n) % 4 == 0  # 90s win half the time, 70s never
    return pd.DataFrame(
        {
            "ts": ts,
            "decision_ts": ts + pd.Timedelta(seconds=30),
            "setup": "ORB_retest_go",
            "direction": "long",
            "decision": "take",
            "decision_source": "openai:gpt-5-mini",
            "fallback": None,
            "confidence": conf,
            "entry_ts": ts + pd.Timedelta(minutes=1),
            "exit_ts": ts + pd.Timedelta(minutes=5),
            "pnl_pts": np.where(win, 1.0, -1.0),
            "counterfactual": False,
        }
    )


def test_calibration_prints_table_brier_and_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.parquet"
    _journal().to_parquet(path)
    main(["calibration", "--journal", str(path)])
    out = capsys.readouterr().out
    # 20 at 90 with 10 wins; 20 at 70 with 0 wins; pooled 10/40
    assert "70-80" in out
    assert "90-100" in out
    assert "answered and resolved: 40; pooled win rate 25.0 %; applies: yes" in out
    # Brier: 10*(0.9-1)^2 + 10*(0.9)^2 + 20*(0.7)^2 over 40 = (0.1 + 8.1 + 9.8) / 40 = 0.45
    assert "Brier score (stated confidence): 0.4500" in out
    # trailing 20 trades: 5 wins -> 25 % -> 85 + 20 * (0.80 - 0.25) = 96 -> clipped to 92
    assert "threshold: 92 (trailing-20 win rate 25.0 % over 20 trades" in out


def test_calibration_reads_the_store_and_refuses_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path))
    engine = make_engine(f"sqlite:///{(tmp_path / 'mesdesk.sqlite').as_posix()}")
    _journal(10).to_sql("journal", engine, index=False)
    engine.dispose()
    main(["calibration", "--store"])
    assert "applies: no (needs 30)" in capsys.readouterr().out
    for argv, message in (
        (["calibration", "--store", "--journal", "x.parquet"], "error: give either --journal PATH or --store"),
        (["calibration", "--journal", str(tmp_path / "missing.parquet")], "no such file"),
    ):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        assert message in capsys.readouterr().err


def test_calibration_reads_the_service_journal_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, finding 8: `mesdesk calibration` had no default and `--store` looked for a table
    `journal` that `mesdesk serve` never writes."""
    from mesdesk.config import load_settings
    from mesdesk.services.paper import open_store

    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as done:
        main(["calibration"])
    assert done.value.code == 2
    assert "no journal yet (service_journal): run `mesdesk serve` first" in capsys.readouterr().err

    store = open_store(load_settings())  # the service's tables, as `mesdesk serve` creates them
    rows = _journal(40).drop(columns=["decision_ts", "counterfactual"])
    rows = rows.assign(
        runner=["paper"] * 36 + ["replay-2025-09-16"] * 4,
        candidate_key=[f"k{i}" for i in range(40)],
        trading_day=rows["ts"].dt.date,
        ref_entry=6000.0,
        prefilter_score=80.0,
        passed_prefilter=True,
        session_label="rth_a",
        timestamp_ct="",
        reason="",
        gate="ok",
        entry_price=6000.0,
        exit_price=6001.0,
        exit_reason="tp",
        features="{}",
    )
    rows.to_sql("service_journal", store.engine, index=False, if_exists="append")
    store.engine.dispose()
    main(["calibration"])
    out = capsys.readouterr().out
    assert "store table service_journal" in out
    assert "answered and resolved: 40;" in out
    main(["calibration", "--runner", "paper"])
    out = capsys.readouterr().out
    assert "book paper" in out
    assert "answered and resolved: 36;" in out
