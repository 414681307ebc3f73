"""Live feed honesty (a delayed feed is measured and holds entries) and the health/readiness endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mesdesk.api import create_app
from mesdesk.config import load_settings
from mesdesk.errors import ConfigError
from mesdesk.runner.service import LiveDriver, feed_age_s
from mesdesk.store.runner_store import ServiceStore, StepRecord
from mesdesk.timeframes import Timeframe

from .helpers import FakeWall, day_bars
from .test_runner import StaticSource, make_service

M1 = timedelta(minutes=1)
OPEN_0900 = datetime(2025, 9, 16, 14, 0, tzinfo=UTC)  # the 09:00 CT bar of Tuesday 2025-09-16


@pytest.fixture(name="bars", scope="module")
def fixture_bars() -> pd.DataFrame:
    return day_bars().loc[: pd.Timestamp("2025-09-16 15:45", tz="UTC")]


def test_feed_age_is_the_time_since_the_newest_bar_closed_while_the_market_trades() -> None:
    assert feed_age_s(OPEN_0900, M1, OPEN_0900 + timedelta(minutes=11, seconds=5)) == 605.0
    assert feed_age_s(OPEN_0900, M1, OPEN_0900 + timedelta(seconds=30)) == 0.0  # not closed yet: no delay
    # 16:30 CT, the maintenance break: the market is closed, an old bar is no delay
    assert feed_age_s(OPEN_0900, M1, datetime(2025, 9, 16, 21, 30, tzinfo=UTC)) is None
    # 17:02 CT, the next session has begun without a bar yet: the 15:59 bar is no delay either
    last_of_day = datetime(2025, 9, 16, 20, 59, tzinfo=UTC)
    assert feed_age_s(last_of_day, M1, datetime(2025, 9, 16, 22, 2, tzinfo=UTC)) is None
    assert feed_age_s(last_of_day, M1, datetime(2025, 9, 20, 15, 0, tzinfo=UTC)) is None  # a Saturday


def test_a_delayed_feed_holds_entries_with_the_reason_and_a_timely_one_releases_them(
    store: ServiceStore, bars: pd.DataFrame
) -> None:
    source = StaticSource(bars.loc[: pd.Timestamp(OPEN_0900)])
    wall = FakeWall(OPEN_0900 + timedelta(minutes=11, seconds=5))  # 09:11:05 CT: the feed is 10 min behind
    service = make_service(store, bars, wall, "a")
    service.driver = LiveDriver(
        source, symbol="MES=F", timeframe=Timeframe.M1, lookback_days=2, poll_s=5, grace_s=20, max_delay_s=90
    )
    service.run_once()
    assert service.runner.cursor == OPEN_0900  # the bar is still processed (a position would be managed)
    snap = store.state("replay-test")
    assert snap is not None
    assert snap.paused
    assert snap.paused_reason == "feed delayed: last bar closed 10 min ago (limit 90 s); no new entries"
    assert isinstance(service.driver, LiveDriver)
    assert service.driver.delay_s(wall()) == 605.0

    source.frame = bars.loc[: pd.Timestamp(OPEN_0900 + timedelta(minutes=11))]  # caught up: 09:10 closed at 09:11
    service.run_once()
    snap = store.state("replay-test")
    assert snap is not None
    assert not snap.paused
    assert snap.paused_reason is None
    assert service.driver.delay_s(wall()) == 5.0


def test_without_a_limit_a_delayed_feed_is_measured_but_never_holds(store: ServiceStore, bars: pd.DataFrame) -> None:
    source = StaticSource(bars.loc[: pd.Timestamp(OPEN_0900)])
    wall = FakeWall(OPEN_0900 + timedelta(minutes=11, seconds=5))
    service = make_service(store, bars, wall, "a")
    driver = LiveDriver(source, symbol="MES=F", timeframe=Timeframe.M1, lookback_days=2, poll_s=5, grace_s=20)
    service.driver = driver
    service.run_once()
    snap = store.state("replay-test")
    assert snap is not None
    assert not snap.paused
    assert driver.delay_s(wall()) == 605.0
    assert driver.hold_reason(wall()) is None


def test_the_delay_limit_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"MESDESK_MAX_FEED_DELAY_S=60: must exceed one 1m bar plus the poll"):
        LiveDriver(
            StaticSource(pd.DataFrame()), symbol="MES=F", timeframe=Timeframe.M1, lookback_days=2, poll_s=5,
            grace_s=20, max_delay_s=60,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="MESDESK_MAX_FEED_DELAY_S"):
        load_settings(MESDESK_MAX_FEED_DELAY_S="-5")
    assert load_settings(MESDESK_MAX_FEED_DELAY_S="600").max_feed_delay_s == 600.0


# --------------------------------------------------------------------------------------- the API


class Wall:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def now(self) -> datetime:
        return self.t


@pytest.fixture(name="api")
def fixture_api(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[TestClient, ServiceStore, Wall]]:
    app = create_app(load_settings(MESDESK_DATA_DIR=str(tmp_path), MESDESK_DATABASE_URL=sqlite_url))
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        ctx = app.state.handle.ctx
        wall = Wall(OPEN_0900 + timedelta(minutes=11, seconds=5))
        ctx.clock = wall
        yield client, ctx.store, wall


def live_bar(store: ServiceStore, bar_open: datetime, now: datetime) -> None:
    store.ensure_state("paper", mode="live", source="yahoo:MES=F:1m")
    assert store.acquire_lease("paper", "host:1:abc", now, timedelta(seconds=15))
    step = StepRecord(
        bar_ts=bar_open,
        trading_day=bar_open.date(),
        trades_today=0,
        losses_today=0,
        net_pts_today=0.0,
        position=None,
        live=None,
        paused=False,
        paused_reason=None,
    )
    store.commit_step("paper", "host:1:abc", now, step)


def test_metrics_runner_says_how_late_the_feed_is(api: tuple[TestClient, ServiceStore, Wall]) -> None:
    client, store, wall = api
    live_bar(store, OPEN_0900, wall.t)
    body = client.get("/metrics/runner").json()
    assert body["feed_delay_s"] == 605.0
    assert body["feed_delay_limit_s"] == 90.0
    wall.t = datetime(2025, 9, 16, 21, 30, tzinfo=UTC)  # the maintenance break
    assert client.get("/metrics/runner").json()["feed_delay_s"] is None


def test_health_keeps_the_seed_fields_and_adds_the_runners_liveness(
    api: tuple[TestClient, ServiceStore, Wall],
) -> None:
    client, store, wall = api
    body = client.get("/health").json()
    assert {"status", "server_time_utc", "server_time_ct"} <= set(body)
    assert body["status"] == "ok"
    assert body["runner"]["holder"] is None
    assert body["runner"]["last_bar_age_s"] is None
    live_bar(store, OPEN_0900, wall.t)
    runner = client.get("/health").json()["runner"]
    assert runner == {
        "name": "paper",
        "holder": "host:1:abc",
        "mode": "live",
        "last_bar_ts": "2025-09-16T14:00:00Z",
        "last_bar_age_s": 605.0,
        "store_error": None,
    }


def test_ready_answers_503_once_no_runner_renewed_the_lease(api: tuple[TestClient, ServiceStore, Wall]) -> None:
    client, store, wall = api
    missing = client.get("/ready")
    assert missing.status_code == 503
    assert "no runner holds the lease of 'paper'" in missing.json()["detail"]
    live_bar(store, OPEN_0900, wall.t)
    ok = client.get("/ready")
    assert ok.status_code == 200
    assert ok.json() == {"ready": True, "runner": "paper", "holder": "host:1:abc"}
    wall.t += timedelta(seconds=16)  # past the 15 s TTL without a renewal
    assert client.get("/ready").status_code == 503
