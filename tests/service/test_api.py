"""The HTTP API: the seeds' exact fields, bad parameters as 4xx, control auth, CORS, dashboard files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mesdesk.api import create_app
from mesdesk.config import Settings, load_settings
from mesdesk.llm.budget import Budget
from mesdesk.store.runner_store import ServiceStore, StepRecord

from .test_store import journal, trade

DAY = date(2025, 9, 16)
T0 = datetime(2025, 9, 16, 14, 0, tzinfo=UTC)
LOOPBACK = ("127.0.0.1", 40000)
REMOTE = ("203.0.113.9", 40000)


def make_settings(tmp_path: Path, db_url: str, **extra: Any) -> Settings:
    return load_settings(MESDESK_DATA_DIR=str(tmp_path), MESDESK_DATABASE_URL=db_url, **extra)


def seed(store: ServiceStore) -> None:
    """Two closed trades and a journal of three candidates on 2025-09-16 under runner "paper"."""
    store.ensure_state("paper", mode="replay", source="test")
    assert store.acquire_lease("paper", "t", T0, timedelta(hours=1))
    rows = [
        journal("c1", exit_ts=T0 + timedelta(minutes=5), exit_price=5826.5, pnl_pts=1.0, entry_ts=T0),
        journal("c2", decision="skip", reason="prefilter 70 < 75", gate="ok"),
        journal("c3", decision="not_asked", gate="max trades 6 reached"),
    ]
    live = {
        "setup_type": "ORB_retest_go",
        "direction": "long",
        "prefilter_score": 82.0,
        "volume_multiple": 2.1,
        "atr_5m": 1.2,
        "session_label": "rth_a",
        "timestamp_ct": "2025-09-16T09:45:00",
    }
    step = StepRecord(
        bar_ts=T0 + timedelta(minutes=30),
        trading_day=DAY,
        trades_today=2,
        losses_today=1,
        net_pts_today=0.25,
        position=None,
        live=live,
        paused=False,
        paused_reason=None,
        journal=rows,
        trades=[trade("k1", 1.0, 5), trade("k2", -0.75, 9)],
    )
    store.commit_step("paper", "t", T0, step)
    # The decider reserves at the decision time: in a replay, on the replayed day.
    assert Budget(store.engine, 5).reserve(T0, provider="openai") is not None


def test_budget_counts_the_ledgers_calls_and_pauses_at_the_cap(client: TestClient) -> None:
    store = client.app.state.handle.ctx.store  # type: ignore[attr-defined]
    for _ in range(4):
        assert Budget(store.engine, 5).reserve(T0) is not None
    client.app.state.handle.ctx.invalidate()  # type: ignore[attr-defined]
    body = client.get("/metrics/budget").json()
    assert body["calls_used"] == 5
    assert body["paused"] is True
    assert "5/5" in body["paused_reason"]


def test_budget_figures_come_from_the_ledger_day_the_runner_decides_in(tmp_path: Path, db_url: str) -> None:
    """The repro of issue 13's finding 3: a replay of 2025-09-16 with DAILY_GPT_CALL_CAP=2 spent both calls;
    every endpoint and the dashboard's source must show 2/2 and paused, not the wall clock's empty day."""
    app = create_app(make_settings(tmp_path, db_url, DAILY_GPT_CALL_CAP=2))
    with TestClient(app, client=LOOPBACK) as client:
        seed(app.state.handle.ctx.store)
        ledger = Budget(app.state.handle.ctx.store.engine, 2)
        assert ledger.reserve(T0 + timedelta(minutes=20), request_key="c9") is not None
        assert ledger.reserve(T0) is None  # the decider's over_budget: daily cap reached: 2/2
        wall = Budget(app.state.handle.ctx.store.engine, 2).status(datetime.now(UTC))
        assert wall.calls_used == 0  # nothing on the wall clock's day: the old, wrong source
        app.state.handle.ctx.invalidate()
        body = client.get("/metrics/budget").json()
        assert body == {
            "calls_used": 2,
            "calls_cap": 2,
            "paused": True,
            "paused_reason": "daily cap reached: 2/2 calls on trading day 2025-09-16 (resets at 17:00 CT)",
        }
        summary = client.get("/metrics/summary").json()
        assert (summary["gpt_calls_used"], summary["gpt_calls_cap"]) == (2, 2)


@pytest.fixture(name="client")
def fixture_client(tmp_path: Path, db_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, db_url))
    with TestClient(app, client=LOOPBACK) as client:
        seed(app.state.handle.ctx.store)
        yield client


def test_health_has_the_seed_fields(client: TestClient) -> None:
    body = client.get("/health").json()
    assert set(body) == {"status", "server_time_utc", "server_time_ct", "runner"}  # runner: see test_feed_health
    assert body["status"] == "ok"
    assert body["server_time_utc"].endswith("Z")
    utc = datetime.fromisoformat(body["server_time_utc"].replace("Z", "+00:00"))
    ct = datetime.fromisoformat(body["server_time_ct"])
    assert ct.tzinfo is None
    assert timedelta(hours=5) <= utc.replace(tzinfo=None) - ct <= timedelta(hours=6)


def test_summary_counts_todays_trades(client: TestClient) -> None:
    body = client.get("/metrics/summary").json()
    assert body == {
        "running": True,
        "trades_today": 2,
        "win_rate_trailing20": 50.0,
        "net_points_today": 0.25,
        "avg_time_to_target_sec": 42.0,
        "gpt_calls_used": 1,
        "gpt_calls_cap": 5,
    }


def test_live_shows_the_latest_candidate_with_the_seed_fields(client: TestClient) -> None:
    body = client.get("/metrics/live").json()
    assert body == {
        "setup_type": "ORB_retest_go",
        "direction": "long",
        "prefilter_score": 82.0,
        "volume_multiple": 2.1,
        "atr_5m": 1.2,
        "session_label": "rth_a",
        "timestamp_ct": "2025-09-16T09:45:00",
    }


def test_budget_has_the_seed_fields(client: TestClient) -> None:
    body = client.get("/metrics/budget").json()
    assert set(body) == {"calls_used", "calls_cap", "paused", "paused_reason"}
    assert body["calls_cap"] == 5
    assert body["paused"] is False


def test_trades_of_a_day_carry_the_seed_fields(client: TestClient) -> None:
    body = client.get("/metrics/trades", params={"date": "2025-09-16"}).json()
    seed_fields = {
        "result",
        "prefilter_score",
        "confidence",
        "setup",
        "session",
        "entry_price",
        "exit_price",
        "pnl_pts",
        "time_to_target",
        "mae",
        "mfe",
    }
    assert len(body) == 2
    assert seed_fields <= set(body[0])
    assert [t["pnl_pts"] for t in body] == [1.0, -0.75]
    assert body[0]["result"] == "win"
    assert client.get("/metrics/trades", params={"date": "2025-09-17"}).json() == []


@pytest.mark.parametrize("bad", ["garbage", "2025-13-01", "2025-9-16", "16/09/2025", ""])
def test_bad_date_is_a_422_naming_the_parameter(client: TestClient, bad: str) -> None:
    res = client.get("/metrics/trades", params={"date": bad})
    if bad == "":  # an empty value means "today"
        assert res.status_code == 200
        return
    assert res.status_code == 422
    assert "date=" in res.json()["detail"]


def test_journal_says_why_each_candidate_was_or_was_not_traded(client: TestClient) -> None:
    body = client.get("/metrics/journal", params={"date": "2025-09-16"}).json()
    by_gate = {r["gate"] for r in body}
    assert "max trades 6 reached" in by_gate
    assert {r["decision"] for r in body} == {"take", "skip", "not_asked"}
    assert client.get("/metrics/journal", params={"limit": 0}).status_code == 422


def test_equity_accumulates(client: TestClient) -> None:
    body = client.get("/metrics/equity").json()
    assert [p["equity_pts"] for p in body] == [1.0, 0.25]


def test_fingerprints_have_the_seed_fields(client: TestClient) -> None:
    body = client.get("/metrics/fingerprints").json()
    assert body  # the one resolved trade, at each level learning keeps (the fingerprint and its parent)
    for row in body:
        assert set(row) == {"setup", "fingerprint_id", "status", "samples", "win_rate", "expectancy"}
        assert row["setup"] == "ORB_retest_go"
        assert row["samples"] == 1
        assert row["status"] == "probation"
        assert row["expectancy"] == 1.0


def test_fingerprints_include_what_learning_stored(client: TestClient) -> None:
    from mesdesk.outcome import Outcome
    from mesdesk.store.base import session_factory, transaction
    from mesdesk.store.learning import save_outcomes

    store = client.app.state.handle.ctx.store  # type: ignore[attr-defined]
    losers = [
        Outcome(f"v{i}", "VWAP_rejection", "short", "rth_b", T0, T0 + timedelta(minutes=3 + i), -1.25, True, {})
        for i in range(3)
    ]
    with transaction(session_factory(store.engine)) as session:
        save_outcomes(session, losers)
    client.app.state.handle.ctx.invalidate()  # type: ignore[attr-defined]
    rows = client.get("/metrics/fingerprints").json()
    vwap = [r for r in rows if r["setup"] == "VWAP_rejection"]
    assert vwap  # the stored counterfactual outcomes, beside the journal's ORB trade
    assert {r["samples"] for r in vwap} == {3}
    assert all(r["expectancy"] == -1.25 for r in vwap)
    assert {r["setup"] for r in rows} == {"ORB_retest_go", "VWAP_rejection"}


def test_control_from_loopback_without_a_token(client: TestClient) -> None:
    assert client.post("/control/stop").json() == {"running": False}
    assert client.get("/metrics/summary").json()["running"] is False
    assert client.post("/control/start").json() == {"running": True}


def test_control_from_another_host_needs_a_token(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(make_settings(tmp_path, sqlite_url))
    with TestClient(app, client=REMOTE) as remote:
        res = remote.post("/control/stop")
        assert res.status_code == 403
        assert "MESDESK_API_TOKEN" in res.json()["detail"]


def test_control_with_a_token_set(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(make_settings(tmp_path, sqlite_url, MESDESK_API_TOKEN="s3cret"))
    with TestClient(app, client=REMOTE) as remote:
        assert remote.post("/control/stop").status_code == 401
        assert remote.post("/control/stop", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = remote.post("/control/stop", headers={"Authorization": "Bearer s3cret"})
        assert ok.json() == {"running": False}


def test_cors_allows_the_configured_origin(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(make_settings(tmp_path, sqlite_url, FRONTEND_CORS_ORIGIN="https://desk.example.com"))
    with TestClient(app) as c:
        ok = c.get("/health", headers={"Origin": "https://desk.example.com"})
        assert ok.headers["access-control-allow-origin"] == "https://desk.example.com"
        other = c.get("/health", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("path", ["/mes/signals", "/mes_signals"])
def test_signals_refuse_an_unknown_timeframe(client: TestClient, path: str) -> None:
    res = client.get(path, params={"timeframe": "7m"})
    assert res.status_code == 422
    assert "timeframe='7m'" in res.json()["detail"]


@pytest.mark.parametrize("path", ["/mes/forecast", "/mes_forecast"])
def test_forecast_refuses_an_unknown_model(client: TestClient, path: str) -> None:
    res = client.get(path, params={"model": "foo"})
    assert res.status_code == 422
    assert "model='foo'" in res.json()["detail"]


def test_signals_and_alias_serve_the_scanners_payload(client: TestClient) -> None:
    main = client.get("/mes/signals", params={"timeframe": "15m"})
    assert main.status_code == 200
    body = main.json()
    assert isinstance(body, list)
    assert all(row["timeframe"] == "15m" for row in body)
    assert client.get("/mes_signals", params={"timeframe": "15m"}).json() == body


def test_forecast_and_full_serve_the_forecasters_payload(client: TestClient) -> None:
    body = client.get("/mes/forecast", params={"model": "quant"}).json()
    for field in ("forecasts", "forecast_numeric_pct", "sharpe", "correlations", "shap_proxy", "llm_metadata"):
        assert field in body
    assert client.get("/mes_forecast", params={"model": "quant"}).json()["forecasts"] == body["forecasts"]
    full = client.get("/mes/full").json()
    assert set(full) >= {"signals", "forecast"}


def test_dashboard_and_docs_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "mesdesk" in page.text
    assert client.get("/static/dashboard.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "http" not in docs.text  # no CDN: every asset is a path on this server
    assert "/docs-static/swagger-ui-bundle.js" in docs.text
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200  # served offline
    assert client.get("/docs-static/swagger-ui.css").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/health", "/metrics/summary", "/metrics/trades", "/mes/signals", "/mes_forecast", "/mes/full"):
        assert p in paths


def test_runner_status_says_why_no_runner_trades(tmp_path: Path, sqlite_url: str) -> None:
    from mesdesk.services.paper import RunnerOptions

    bad = RunnerOptions(replay_day=date(2025, 9, 13))  # a Saturday: no session to replay
    app = create_app(make_settings(tmp_path, sqlite_url), bad)
    with TestClient(app) as c:
        body = c.get("/metrics/runner").json()
    assert "not a CME trading day" in body["error"]


def test_openapi_declares_what_the_server_checks(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in doc["paths"]["/mes/forecast"]["get"]["parameters"]}
    assert params["model"]["enum"] == ["quant", "gpt", "opus", "autogluon"]
    params = {p["name"]: p["schema"] for p in doc["paths"]["/mes/signals"]["get"]["parameters"]}
    assert params["timeframe"]["enum"] == ["5m", "15m", "1h", "4h", "1d"]
    day = next(p for p in doc["paths"]["/metrics/trades"]["get"]["parameters"] if p["name"] == "date")
    assert {"type": "string", "format": "date"} in day["schema"]["anyOf"]
    stop = doc["paths"]["/control/stop"]["post"]
    assert {} in stop["security"]  # Authorization is optional: loopback needs none
    assert "loopback" in stop["description"]
    problem = doc["components"]["schemas"]["Problem"]["properties"]["detail"]
    assert problem["type"] == "string"
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_a_422_body_is_the_documented_one_line_problem(client: TestClient) -> None:
    for url in ("/metrics/journal?limit=0", "/mes/forecast?model=turbo", "/metrics/trades?date=16-09-2025"):
        response = client.get(url)
        assert response.status_code == 422, url
        detail = response.json()["detail"]
        assert isinstance(detail, str), url
        assert "\n" not in detail


def test_autogluon_forecast_without_the_extra_or_a_model_is_503(client: TestClient) -> None:
    response = client.get("/mes/forecast", params={"model": "autogluon"})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("model=autogluon: ")
