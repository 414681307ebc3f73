"""The daily budget: atomic reservation under threads and processes, restarts, trading-day reset."""

from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from mesdesk.errors import ProviderError
from mesdesk.llm.budget import Budget
from mesdesk.store.base import make_engine
from mesdesk.store.budget import LLMCall

# 2025-01-20 09:30 CT (CST, UTC-6) -> trading day 2025-01-20
MORNING = datetime(2025, 1, 20, 15, 30, tzinfo=UTC)


def _race_threads(url: str, cap: int, callers: int) -> list[int | None]:
    engine = make_engine(url)
    budget = Budget(engine, cap)
    barrier = threading.Barrier(callers)
    slots: list[int | None] = [None] * callers

    def call(i: int) -> None:
        barrier.wait()
        r = budget.reserve(MORNING, provider="openai", model="m")
        slots[i] = None if r is None else r.slot

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    return slots


def _process_caller(url: str, cap: int, barrier: object, out: object) -> None:
    engine = make_engine(url)
    budget = Budget(engine, cap)
    barrier.wait()  # type: ignore[attr-defined]
    r = budget.reserve(MORNING)
    out.put(None if r is None else r.slot)  # type: ignore[attr-defined]
    engine.dispose()


def _race_processes(url: str, cap: int, callers: int) -> list[int | None]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(callers)
    out = ctx.Queue()
    procs = [ctx.Process(target=_process_caller, args=(url, cap, barrier, out)) for _ in range(callers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def _rows(engine: Engine) -> list[tuple[date, int]]:
    with engine.connect() as conn:
        return [(r.trading_day, r.slot) for r in conn.execute(select(LLMCall.__table__))]


@pytest.mark.parametrize("runner", [_race_threads, _race_processes], ids=["threads", "processes"])
def test_twenty_concurrent_callers_never_exceed_the_cap_on_sqlite(store_url: str, runner: object) -> None:
    slots = runner(store_url, 5, 20)  # type: ignore[operator]
    taken = sorted(s for s in slots if s is not None)
    assert taken == [1, 2, 3, 4, 5]
    assert slots.count(None) == 15
    engine = make_engine(store_url)
    assert len(_rows(engine)) == 5
    assert Budget(engine, 5).status(MORNING).calls_used == 5


@pytest.mark.postgres
@pytest.mark.parametrize("runner", [_race_threads, _race_processes], ids=["threads", "processes"])
def test_twenty_concurrent_callers_never_exceed_the_cap_on_postgresql(pg_url: str, runner: object) -> None:
    slots = runner(pg_url, 5, 20)  # type: ignore[operator]
    assert sorted(s for s in slots if s is not None) == [1, 2, 3, 4, 5]
    engine = make_engine(pg_url)
    assert len(_rows(engine)) == 5
    engine.dispose()


def test_restart_keeps_the_days_count(store_url: str) -> None:
    first = make_engine(store_url)
    budget = Budget(first, 5)
    assert budget.reserve(MORNING) is not None
    assert budget.reserve(MORNING + timedelta(minutes=5)) is not None
    first.dispose()

    again = Budget(make_engine(store_url), 5)  # a new process would do exactly this
    status = again.status(MORNING + timedelta(hours=1))
    assert (status.calls_used, status.paused) == (2, False)
    slots = [again.reserve(MORNING + timedelta(hours=1)) for _ in range(4)]
    assert [s.slot if s else None for s in slots] == [3, 4, 5, None]


def test_new_trading_day_starts_at_17_00_ct(store: Engine) -> None:
    budget = Budget(store, 2)
    before_close = datetime(2025, 1, 20, 22, 59, tzinfo=UTC)  # 16:59 CT: still 2025-01-20
    assert budget.reserve(before_close) is not None
    assert budget.reserve(before_close) is not None
    assert budget.reserve(before_close) is None
    assert budget.status(before_close).paused

    evening = datetime(2025, 1, 20, 23, 0, tzinfo=UTC)  # 17:00 CT: trading day 2025-01-21 begins
    status = budget.status(evening)
    assert (status.trading_day, status.calls_used, status.paused) == (date(2025, 1, 21), 0, False)
    r = budget.reserve(evening)
    assert r is not None
    assert (r.trading_day, r.slot) == (date(2025, 1, 21), 1)


def test_status_matches_the_seeds_metrics_budget_and_says_why_it_paused(store: Engine) -> None:
    budget = Budget(store, 1)
    assert budget.status(MORNING).as_metrics() == {
        "calls_used": 0,
        "calls_cap": 1,
        "paused": False,
        "paused_reason": None,
    }
    budget.reserve(MORNING)
    metrics = budget.status(MORNING).as_metrics()
    assert metrics["paused"] is True
    assert metrics["paused_reason"] == "daily cap reached: 1/1 calls on trading day 2025-01-20 (resets at 17:00 CT)"


def test_settle_records_tokens_cost_and_failures(store: Engine) -> None:
    budget = Budget(store, 5)
    ok = budget.reserve(MORNING, provider="openai", model="gpt-5-mini")
    bad = budget.reserve(MORNING, provider="openai", model="gpt-5-mini")
    assert ok is not None
    assert bad is not None
    budget.settle(ok, input_tokens=1000, output_tokens=200, cost_usd=0.00065, latency_ms=812.0)
    budget.settle(bad, error=ProviderError("HTTP 429", provider="openai", kind="rate_limit"))
    status = budget.status(MORNING)
    assert (status.calls_used, status.input_tokens, status.output_tokens) == (2, 1000, 200)
    assert status.cost_usd == pytest.approx(0.00065)
    with store.connect() as conn:
        kinds = sorted(r.status for r in conn.execute(select(LLMCall.__table__)))
    assert kinds == ["ok", "rate_limit"]


def test_scopes_keep_backtests_apart_from_live(store: Engine) -> None:
    live = Budget(store, 1)
    backtest = Budget(store, 1, scope="backtest:run-1")
    assert live.reserve(MORNING) is not None
    assert backtest.reserve(MORNING) is not None
    assert live.reserve(MORNING) is None


def test_cap_zero_pauses_with_a_reason(store: Engine) -> None:
    budget = Budget(store, 0)
    assert budget.reserve(MORNING) is None
    assert budget.status(MORNING).paused_reason == "DAILY_GPT_CALL_CAP is 0: paid calls are off"


def test_naive_time_is_refused(store: Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Budget(store, 5).reserve(datetime(2025, 1, 20, 9, 30))  # noqa: DTZ001


def test_budget_status_service_gives_the_seeds_shape(tmp_path: object) -> None:
    from mesdesk.config import load_settings
    from mesdesk.services.decisions import budget_status

    settings = load_settings(MESDESK_DATA_DIR=str(tmp_path), DAILY_GPT_CALL_CAP=2)
    assert budget_status(settings, MORNING) == {"calls_used": 0, "calls_cap": 2, "paused": False, "paused_reason": None}
    engine = make_engine(settings.resolved_database_url)
    Budget(engine, 2).reserve(MORNING)
    Budget(engine, 2).reserve(MORNING)
    engine.dispose()
    status = budget_status(settings, MORNING)
    assert (status["calls_used"], status["paused"]) == (2, True)


def test_totals_sum_every_day_of_a_scope(store: Engine) -> None:
    budget = Budget(store, 2, scope="backtest:x")
    next_day = MORNING + timedelta(days=1)
    for now in (MORNING, MORNING, next_day):
        r = budget.reserve(now)
        assert r is not None
        budget.settle(r, input_tokens=100, output_tokens=10, cost_usd=0.001)
    Budget(store, 2).reserve(MORNING)  # the live scope is not counted
    totals = budget.totals()
    assert (totals.calls, totals.days, totals.capped_days) == (3, 2, 1)
    assert (totals.input_tokens, totals.output_tokens) == (300, 30)
    assert totals.cost_usd == pytest.approx(0.003)
