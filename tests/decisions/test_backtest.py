"""Deciders inside the engine: point-in-time learning, replayable LLM runs, and `mesdesk backtest`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.config import load_settings
from mesdesk.decide.local import LocalDeciderConfig
from mesdesk.engine import EngineConfig
from mesdesk.services.decisions import build_decider, decision_counts, run_tapped

from .factories import answer_all, candidates_every, random_walk_days
from .fake_server import serve
from .fakes import FakeLLM

DECISION_COLUMNS = ["ts", "decision", "decision_source", "fallback", "confidence", "reason", "gate", "pnl_pts"]


@pytest.fixture(name="market", scope="module")
def fixture_market() -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = random_walk_days("2025-03-03", 8)
    return bars, candidates_every(bars, 5)


def _local_journal(bars: pd.DataFrame, cands: pd.DataFrame) -> pd.DataFrame:
    # a small history threshold so that the model takes over within the 8 test days
    run = build_decider("local", load_settings(), local_config=LocalDeciderConfig(min_train=10, min_per_class=2))
    return run_tapped(bars, cands, run, EngineConfig()).journal


def test_local_learning_in_a_backtest_is_point_in_time(market: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, cands = market
    full = _local_journal(bars, cands)
    assert full["reason"].str.startswith("model P(win)").any()  # it learned during the run
    assert full["reason"].str.startswith("rule (no history").any()  # and started from the rule
    cut = pd.Timestamp("2025-03-12 00:00", tz="UTC")  # the last day removed
    short = _local_journal(bars[bars.index < cut], cands[cands["ts"] < cut])
    head = full[full["ts"] < cut - pd.Timedelta(hours=8)].reset_index(drop=True)
    pd.testing.assert_frame_equal(head[DECISION_COLUMNS], short.iloc[: len(head)][DECISION_COLUMNS])


def _llm_run(bars: pd.DataFrame, cands: pd.DataFrame, store_url: str, fake: FakeLLM, mode: str) -> pd.DataFrame:
    settings = load_settings(OPENAI_API_KEY="sk-test", DAILY_GPT_CALL_CAP=4, MESDESK_LLM_MAX_RETRIES=0)
    run = build_decider(
        "openai", settings, cache_mode=mode, scope=f"bt-{mode}", store_url=store_url, http_client=fake.client()
    )
    return run_tapped(bars, cands, run, EngineConfig()).journal


def test_llm_backtest_replays_identically_without_a_request(
    market: tuple[pd.DataFrame, pd.DataFrame], store_url: str
) -> None:
    bars, cands = market
    recorder = FakeLLM("openai", answer=answer_all("take", 90), script=["ok", "ok", "500", "ok", "off_schema", "ok"])
    recorded = _llm_run(bars, cands, store_url, recorder, "record")
    counts = recorded["decision"].value_counts().to_dict()
    assert counts["take"] > 0
    assert counts["over_budget"] > 0  # 4 requests per trading day, then the local fallback
    assert counts["provider_error"] >= 1
    assert counts["parse_error"] >= 1
    assert recorded["cost_usd"].sum() > 0
    per_day = recorded[recorded["input_tokens"] > 0].groupby("trading_day").size()
    assert per_day.max() <= 4

    replayer = FakeLLM("openai", answer=answer_all("skip", 3))
    first = _llm_run(bars, cands, store_url, replayer, "replay")
    second = _llm_run(bars, cands, store_url, replayer, "replay")
    assert replayer.requests == []  # replay asked nothing
    pd.testing.assert_frame_equal(first, second)  # identical journals, every column
    assert first["cost_usd"].sum() == 0.0
    # answers bought in the record run come back the same; the rest are named misses
    bought = recorded["decision"].isin(["take", "skip", "parse_error"])
    same = first.loc[bought, ["decision", "confidence"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(same, recorded.loc[bought, ["decision", "confidence"]].reset_index(drop=True))
    assert set(first.loc[recorded["decision"].isin(["over_budget", "provider_error"]), "decision"]) <= {
        "cache_miss",
        "take",
        "skip",
    }
    table = decision_counts(first)
    assert {"decision_source", "decision", "fallback", "candidates"} <= set(table.columns)


def _write_csv(bars: pd.DataFrame, path: Path) -> Path:
    out = bars.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    out.index.name = "ts"
    out.to_csv(path)
    return path


@pytest.mark.parametrize("provider", ["openai", "anthropic", "local"])
def test_mesdesk_backtest_with_each_decider(
    provider: str,
    market: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bars, _ = market
    csv = _write_csv(bars[bars.index < pd.Timestamp("2025-03-08", tz="UTC")], tmp_path / "bars.csv")
    fakes: dict[str, Any] = {p: FakeLLM(p, answer=answer_all("take", 91)) for p in ("openai", "anthropic")}
    with serve(fakes["openai"], fakes["anthropic"]) as base:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        monkeypatch.setenv("MESDESK_OPENAI_BASE_URL", f"{base}/v1")
        monkeypatch.setenv("MESDESK_ANTHROPIC_BASE_URL", base)
        monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path / "store"))
        out = tmp_path / "out"
        argv = ["backtest", "--source", "file", "--file", str(csv), "--decider", provider, "--out", str(out)]
        main(argv)  # returns normally on success (errors exit with code 2)
    printed = capsys.readouterr().out
    assert "Decisions" in printed
    assert "Calibration (stated confidence)" in printed
    assert "confidence threshold at the end" in printed
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Decisions</h2>" in report
    assert "<h2>Calibration of stated confidence</h2>" in report
    journal = pd.read_parquet(out / "journal.parquet")
    asked = journal[journal["decision"] != "not_asked"]
    assert len(asked) > 0
    if provider == "local":
        assert set(asked["decision_source"]) == {"local"}
        assert fakes["openai"].requests == []
        assert fakes["anthropic"].requests == []
    else:
        assert asked["decision_source"].str.startswith(provider).all()
        assert len(fakes[provider].requests) > 0
        assert "paid requests:" in printed


def test_auto_picks_a_keyed_provider_else_local() -> None:
    from mesdesk.services.decisions import resolve_decider_name

    assert resolve_decider_name("auto", load_settings(OPENAI_API_KEY=None, ANTHROPIC_API_KEY=None)) == "local"
    assert resolve_decider_name("auto", load_settings(OPENAI_API_KEY=None, ANTHROPIC_API_KEY="k")) == "anthropic"
    assert resolve_decider_name("auto", load_settings(OPENAI_API_KEY="k", ANTHROPIC_API_KEY="k")) == "openai"


def test_an_llm_decider_without_its_key_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(SystemExit) as done:
        main(["backtest", "--decider", "anthropic", "--days", "2", "--out", "unused"])
    assert done.value.code == 2
    assert "ANTHROPIC_API_KEY is not set" in capsys.readouterr().err
