"""The live Databento source against a fake gateway on 127.0.0.1 that speaks the live protocol to the SDK."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from mesdesk.data.databento_live import Backoff, DatabentoLiveSource, LiveConfig, merge_gap
from mesdesk.errors import ConfigError, ProviderError
from mesdesk.runner.service import LiveDriver
from mesdesk.timeframes import Timeframe

from .databento_gateway import FakeGateway, TapeBar, ns

KEY = "db-LiveTestKey0123456789abcXYZ9"  # 32 characters, as Databento's keys
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 10:00 CT on a Tuesday
M1 = Timeframe.M1


def minute(n: int, *, seconds: float = 0.0) -> datetime:
    return T0 + timedelta(minutes=n, seconds=seconds)


def bar(
    n: int, *, instrument: int = 42, close: float | None = None, volume: int = 100, schema: str = "ohlcv-1m"
) -> TapeBar:
    base = 5000.0 + n
    last = base + 0.5 if close is None else close
    return TapeBar(schema, instrument, ns(minute(n)), base, max(base, last) + 1, min(base, last) - 1, last, volume)


class Clock:
    """The wall clock the source sees; moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.t = pd.Timestamp(start)
        self.lock = threading.Lock()

    def now(self) -> pd.Timestamp:
        with self.lock:
            return self.t

    def set(self, ts: datetime) -> None:
        with self.lock:
            self.t = pd.Timestamp(ts)


class Sleeps:
    """The injected backoff sleep: records each delay, waits only a moment."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(0.01)


def wait_for(cond: Callable[[], bool], timeout_s: float = 4.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture(name="gateway")
def fixture_gateway() -> Iterator[FakeGateway]:
    gw = FakeGateway(KEY).start()
    gw.instruments[42] = "MESH6"
    yield gw
    gw.close()


@pytest.fixture(name="clock")
def fixture_clock() -> Clock:
    return Clock(minute(3, seconds=5))


Make = Callable[..., DatabentoLiveSource]


@pytest.fixture(name="make")
def fixture_make(gateway: FakeGateway, clock: Clock) -> Iterator[Make]:
    made: list[DatabentoLiveSource] = []

    def make(
        *, key: str = KEY, symbol: str = "MES.c.0", sleep: Sleeps | None = None, **config: object
    ) -> DatabentoLiveSource:
        cfg = LiveConfig(
            symbol=symbol,
            gateway="127.0.0.1",
            port=gateway.port,
            backoff=Backoff(first_s=1.0, max_s=8.0),
            **config,  # type: ignore[arg-type]
        )
        source = DatabentoLiveSource.from_key(key, cfg, now=clock.now, sleep=sleep or Sleeps())
        made.append(source)
        return source

    yield make
    for source in made:
        source.stop()


def frame(source: DatabentoLiveSource, tf: Timeframe = M1, symbol: str = "MES.c.0") -> pd.DataFrame:
    return source.bars(symbol, tf, T0 - timedelta(days=1), T0 + timedelta(days=1))


# --------------------------------------------------------------------------------------- streaming


def test_closed_bars_arrive_with_their_contract(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    for n in range(3):
        gateway.publish(bar(n))
    source = make()
    source.start()
    wait_for(lambda: source.status().bars == 3)
    got = frame(source)
    assert list(got.index) == [pd.Timestamp(minute(n)) for n in range(3)]
    assert got["symbol"].tolist() == ["MESH6"] * 3
    assert got["instrument_id"].tolist() == [42] * 3
    assert got["open"].tolist() == [5000.0, 5001.0, 5002.0]
    assert got["close"].tolist() == [5000.5, 5001.5, 5002.5]
    sub = gateway.subscriptions[0]
    assert (sub.schema, sub.stype_in, sub.symbols) == ("ohlcv-1m", "continuous", "MES.c.0")
    assert int(sub.start) == ns(minute(3, seconds=5) - timedelta(hours=23))  # the initial intraday replay

    clock.set(minute(4, seconds=0.2))  # the 10:03 bar closes at 10:04; Databento sends it then
    gateway.publish(bar(3, close=5010.0))
    wait_for(lambda: len(frame(source)) == 4)
    assert frame(source)["close"].iloc[-1] == 5010.0


def test_a_record_before_its_close_is_not_returned(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    gateway.publish(bar(0))
    source = make()
    source.start()
    wait_for(lambda: source.status().bars == 1)
    clock.set(minute(1, seconds=30))
    gateway.send_partial(bar(1))
    wait_for(lambda: source.status().bars == 2)
    assert list(frame(source).index) == [pd.Timestamp(minute(0))]  # 10:01 closes at 10:02


def test_drop_in_the_middle_of_a_bar_never_uses_the_partial(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    for n in range(3):
        gateway.publish(bar(n))
    sleeps = Sleeps()
    source = make(sleep=sleeps)
    source.start()
    wait_for(lambda: source.status().bars == 3)
    clock.set(minute(3, seconds=30))
    gateway.send_partial(bar(3, close=4900.0))  # a provisional 10:03 record, then the line drops
    wait_for(lambda: source.status().provisional == 1)
    gateway.drop()
    wait_for(lambda: source.status().sessions == 2 and len(gateway.subscriptions) == 2)
    assert source.status().provisional_dropped == 1
    assert int(gateway.subscriptions[1].start) == ns(minute(2))  # replay from the last bar held
    assert sleeps.delays == [1.0]  # one wait before reconnecting after a session that streamed

    clock.set(minute(4, seconds=0.1))
    assert len(frame(source)) == 3  # 10:03 has closed, but its partial record is not a bar
    gateway.publish(bar(3, close=5010.0))  # the real 10:03 bar, once closed
    wait_for(lambda: len(frame(source)) == 4)
    got = frame(source)
    assert got["close"].iloc[-1] == 5010.0
    assert not got.index.has_duplicates
    assert source.status().duplicates == 1  # 10:02 came twice (replay overlap), kept once


def test_a_record_ahead_of_the_local_clock_is_kept_once_the_gateway_ends_its_interval(
    gateway: FakeGateway, clock: Clock, make: Make
) -> None:
    gateway.publish(bar(0))
    source = make()
    source.start()
    wait_for(lambda: source.status().bars == 1)
    clock.set(minute(1, seconds=59.9))  # the local clock runs 0.1 s behind the gateway's
    gateway.publish(bar(1))
    wait_for(lambda: source.status().provisional == 1)
    gateway.end_of_interval("ohlcv-1m", minute(2))  # every 10:01 record is out
    wait_for(lambda: source.status().provisional == 0)
    gateway.drop()
    wait_for(lambda: source.status().sessions == 2 and len(gateway.subscriptions) == 2)
    assert source.status().provisional_dropped == 0
    assert int(gateway.subscriptions[1].start) == ns(minute(1))
    clock.set(minute(2, seconds=0.1))
    assert [t.minute for t in frame(source).index] == [0, 1]


def test_gap_of_several_minutes_is_filled_by_intraday_replay(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    for n in range(3):
        gateway.publish(bar(n))
    source = make(disconnect_grace_s=30.0)
    source.start()
    wait_for(lambda: source.status().bars == 3)
    gateway.go_down()  # 10:03:05: the gateway is unreachable for six minutes
    wait_for(lambda: not source.status().connected)
    for n in (3, 4, 6, 7, 8):  # no trade in 10:05: Databento writes no bar for it
        gateway.publish(bar(n), live=False)
    clock.set(minute(9, seconds=5))
    with pytest.raises(ProviderError, match="down for 360 s, reconnecting"):
        frame(source)
    gateway.come_back()
    wait_for(lambda: source.status().sessions == 2, timeout_s=6.0)
    wait_for(lambda: source.status().bars == 8)
    got = frame(source)
    assert [t.minute for t in got.index] == [0, 1, 2, 3, 4, 6, 7, 8]  # nothing invented for 10:05
    assert not got.index.has_duplicates
    assert int(gateway.subscriptions[-1].start) == ns(minute(2))

    # the late bars reach the runner, which applies its late-decision rule to them
    driver = LiveDriver(source, symbol="MES.c.0", timeframe=M1, lookback_days=1, poll_s=5.0, grace_s=20.0)
    frames = list(driver.frames(minute(2), minute(9, seconds=5)))
    assert [f.index[-1].minute for f in frames] == [3, 4, 6, 7, 8]


def test_reconnects_back_off_exponentially(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    gateway.go_down()
    sleeps = Sleeps()
    source = make(sleep=sleeps)
    source.start()
    wait_for(lambda: len(sleeps.delays) >= 6)
    assert sleeps.delays[:6] == [2.0, 4.0, 8.0, 8.0, 8.0, 8.0]  # first_s * 2**failures, capped at max_s
    assert "failed" in (source.status().last_error or "")
    gateway.come_back()
    wait_for(lambda: source.status().sessions == 1)
    before = len(sleeps.delays)
    gateway.drop()
    wait_for(lambda: source.status().sessions == 2)
    assert sleeps.delays[before] == 1.0  # a session that streamed resets the backoff


def test_contract_of_each_bar_is_recorded_across_a_roll(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    gateway.publish(bar(0))
    source = make()
    source.start()
    wait_for(lambda: source.status().bars == 1)
    gateway.add_instrument(43, "MESM6")  # the continuous symbol rolls to June
    clock.set(minute(2))
    gateway.publish(bar(1, instrument=43))
    wait_for(lambda: source.status().bars == 2)
    got = frame(source)
    assert got["symbol"].tolist() == ["MESH6", "MESM6"]
    assert got["instrument_id"].tolist() == [42, 43]


def test_parent_symbology_drops_spreads_and_follows_the_volume_leader(
    gateway: FakeGateway, clock: Clock, make: Make
) -> None:
    gateway.instruments.update({43: "MESM6", 99: "MESH6-MESM6"})
    # 15:50-15:52 CT: the trading day of 2026-03-10 (H6 leads); 17:05-17:07 CT: the next one, where
    # M6 trades more but the previous day's leader (H6) is still the front.
    day1, day2 = (350, 351, 352), (425, 426, 427)
    for n in day1 + day2:
        gateway.publish(bar(n, instrument=42, volume=500 if n in day1 else 50), live=False)
        gateway.publish(bar(n, instrument=43, volume=100 if n in day1 else 900), live=False)
        gateway.publish(bar(n, instrument=99, volume=10_000), live=False)
    clock.set(minute(430))
    source = make(symbol="MES.FUT")
    source.start()
    wait_for(lambda: source.status().bars == 18)
    got = frame(source, symbol="MES.FUT")
    assert gateway.subscriptions[0].stype_in == "parent"
    assert got["symbol"].tolist() == ["MESH6"] * 6
    assert "MESH6-MESM6" not in set(got["symbol"])


def test_sub_bars_come_from_the_ohlcv_1s_subscription(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    gateway.publish(bar(0))
    one_s = TapeBar("ohlcv-1s", 42, ns(minute(3, seconds=1)), 5003.0, 5003.25, 5002.75, 5003.0, 3)
    gateway.publish(one_s)
    source = make(timeframes=(Timeframe.M1, Timeframe.S1))
    source.start()
    wait_for(lambda: source.status().bars == 2)
    assert sorted(str(s.schema) for s in gateway.subscriptions) == ["ohlcv-1m", "ohlcv-1s"]
    starts = {str(s.schema): int(s.start) for s in gateway.subscriptions}
    assert starts["ohlcv-1s"] == ns(minute(3, seconds=5) - timedelta(minutes=30))
    assert len(frame(source, Timeframe.S1)) == 1
    assert len(frame(source)) == 1


# --------------------------------------------------------------------------------------- history


class FakeHistory:
    """The historical source: answers from a frame, records what it was asked."""

    name = "databento"

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        self.asked: list[tuple[pd.Timestamp, pd.Timestamp]] = []

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> pd.DataFrame:
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        self.asked.append((lo, hi))
        return self.rows.loc[(self.rows.index >= lo) & (self.rows.index < hi)]


def history_rows(minutes: list[int]) -> pd.DataFrame:
    idx = pd.DatetimeIndex([pd.Timestamp(minute(n)) for n in minutes], name="ts")
    base = [5000.0 + n for n in minutes]
    return pd.DataFrame(
        {
            "open": base,
            "high": [b + 1.5 for b in base],
            "low": [b - 1 for b in base],
            "close": [b + 0.5 for b in base],
            "volume": [100] * len(minutes),
            "instrument_id": [42] * len(minutes),
            "symbol": ["MESH6"] * len(minutes),
        },
        index=idx,
    )


def test_a_gap_older_than_the_replay_window_comes_from_the_historical_api(gateway: FakeGateway, clock: Clock) -> None:
    for n in range(3):
        gateway.publish(bar(n))
    history = FakeHistory(history_rows([2, 3, 4, 5]))
    cfg = LiveConfig(
        gateway="127.0.0.1",
        port=gateway.port,
        replay_window=timedelta(minutes=4),
        initial_replay=timedelta(minutes=4),
        history_lookback=timedelta(minutes=4),
        backoff=Backoff(1.0, 8.0),
    )
    source = DatabentoLiveSource.from_key(KEY, cfg, now=clock.now, sleep=Sleeps(), history=history)
    try:
        source.start()
        wait_for(lambda: source.status().bars == 3)
        assert history.asked == []  # the first replay reaches as far back as the lookback asks
        gateway.go_down()
        wait_for(lambda: not source.status().connected)
        for n in range(3, 9):
            gateway.publish(bar(n), live=False)
        clock.set(minute(9, seconds=5))  # the replay reaches back to 10:05:05 only
        history.asked.clear()
        gateway.come_back()
        wait_for(lambda: source.status().sessions == 2, timeout_s=6.0)
        wait_for(lambda: source.status().bars == 9)
        assert history.asked == [(pd.Timestamp(minute(2)), pd.Timestamp(minute(5, seconds=5)))]
        assert int(gateway.subscriptions[-1].start) == ns(minute(5, seconds=5))
        got = frame(source)
        assert [t.minute for t in got.index] == list(range(9))
        assert source.status().gaps == ()
    finally:
        source.stop()


def test_without_history_an_old_gap_is_reported_not_filled(gateway: FakeGateway, clock: Clock, make: Make) -> None:
    for n in range(3):
        gateway.publish(bar(n))
    source = make(replay_window=timedelta(minutes=4))
    source.start()
    wait_for(lambda: source.status().bars == 3)
    gateway.go_down()
    wait_for(lambda: not source.status().connected)
    for n in range(3, 9):
        gateway.publish(bar(n), live=False)
    clock.set(minute(9, seconds=5))
    gateway.come_back()
    wait_for(lambda: source.status().sessions == 2, timeout_s=6.0)
    wait_for(lambda: source.status().bars == 6)  # 10:06..10:08 from the replay, which starts at 10:05:05
    got = frame(source)
    assert [t.minute for t in got.index] == [0, 1, 2, 6, 7, 8]
    assert source.status().gaps == ((minute(2), minute(5, seconds=5)),)


def test_failed_reconnects_report_an_old_gap_once_and_grow_it_as_the_clock_moves(
    gateway: FakeGateway, clock: Clock, make: Make
) -> None:
    for n in range(3):
        gateway.publish(bar(n))
    source = make(replay_window=timedelta(minutes=4))
    source.start()
    try:
        wait_for(lambda: source.status().bars == 3)
        gateway.go_down()
        wait_for(lambda: not source.status().connected)
        clock.set(minute(9, seconds=5))
        tried = source.status().attempts
        wait_for(lambda: source.status().attempts >= tried + 2, timeout_s=6.0)  # two refused while down
        assert source.status().gaps == ((minute(2), minute(5, seconds=5)),)
        clock.set(minute(9, seconds=35))
        tried = source.status().attempts
        wait_for(lambda: source.status().attempts >= tried + 1, timeout_s=6.0)
        assert source.status().gaps == ((minute(2), minute(5, seconds=35)),)
        for n in range(3, 9):
            gateway.publish(bar(n), live=False)
        gateway.come_back()
        wait_for(lambda: source.status().sessions == 2, timeout_s=6.0)
        wait_for(lambda: source.status().bars == 6)  # 10:06..10:08 from the replay, which starts at 10:05:35
        assert [t.minute for t in frame(source).index] == [0, 1, 2, 6, 7, 8]
        assert source.status().gaps == ((minute(2), minute(5, seconds=35)),)
    finally:
        source.stop()


def test_merge_gap_joins_what_overlaps_or_touches_and_says_when_it_grew() -> None:
    gaps: list[tuple[datetime, datetime]] = []
    assert merge_gap(gaps, minute(2), minute(5))
    assert not merge_gap(gaps, minute(2), minute(5))  # the same gap again
    assert not merge_gap(gaps, minute(3), minute(4))  # inside it
    assert merge_gap(gaps, minute(10), minute(12))
    assert gaps == [(minute(2), minute(5)), (minute(10), minute(12))]
    assert merge_gap(gaps, minute(4), minute(6))  # overlaps the first
    assert merge_gap(gaps, minute(12), minute(13))  # touches the second
    assert gaps == [(minute(2), minute(6)), (minute(10), minute(13))]
    assert merge_gap(gaps, minute(5), minute(11))  # bridges both
    assert gaps == [(minute(2), minute(13))]
    assert merge_gap(gaps, minute(0), minute(1))
    assert gaps == [(minute(0), minute(1)), (minute(2), minute(13))]


# --------------------------------------------------------------------------------------- the key


def test_the_key_never_appears_in_logs_errors_or_on_the_wire(
    gateway: FakeGateway, clock: Clock, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.publish(bar(0))
    good = make()
    good.start()
    wait_for(lambda: good.status().bars == 1)
    gateway.drop()
    wait_for(lambda: good.status().sessions == 2)

    wrong = "db-WrongKey0123456789abcdefXYZ9"
    refused = make(key=wrong)
    refused.start()
    wait_for(lambda: refused.status().last_error is not None)
    with pytest.raises(ProviderError) as err:
        frame(refused)
    assert err.value.kind == "auth"
    assert "DATABENTO_API_KEY" in str(err.value)
    for secret in (KEY, wrong):
        assert secret not in caplog.text
        assert secret not in str(err.value)
        assert secret not in repr(good) + repr(refused)
        assert secret not in str(good.status()) + str(refused.status())
        assert not any(secret in line for line in gateway.control_lines)  # challenge-response only
    assert gateway.authenticated == 2


def test_bad_configuration_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="DATABENTO_API_KEY"):
        DatabentoLiveSource.from_key(None)
    with pytest.raises(ConfigError, match="1m and 1s"):
        LiveConfig(timeframes=(Timeframe.M5,))
    with pytest.raises(ConfigError, match="within 24 h"):
        LiveConfig(replay_window=timedelta(hours=30))
    source = DatabentoLiveSource.from_key(KEY, LiveConfig(gateway="127.0.0.1", port=1))
    with pytest.raises(ConfigError, match=r"streams MES.c.0, not 'MES=F'"):
        source.bars("MES=F", M1, T0, T0 + timedelta(hours=1))
    with pytest.raises(ConfigError, match="not 5m"):
        source.bars("MES.c.0", Timeframe.M5, T0, T0 + timedelta(hours=1))


def test_the_factory_streams_1m_with_the_historical_api_behind_it() -> None:
    from mesdesk.config import Settings
    from mesdesk.data.databento_live import live_source
    from mesdesk.data.databento_source import DatabentoSource

    source = live_source(Settings(databento_api_key=KEY), sub_bars=True)
    assert source.config.timeframes == (Timeframe.M1, Timeframe.S1)
    assert (source.config.dataset, source.config.symbol) == ("GLBX.MDP3", "MES.c.0")
    assert isinstance(source._history, DatabentoSource)
    assert KEY not in repr(source)
    with pytest.raises(ConfigError, match="DATABENTO_API_KEY"):
        live_source(Settings(databento_api_key=None))
