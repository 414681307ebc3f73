"""A local stand-in for Databento's live gateway on 127.0.0.1, close enough for the official SDK.

The wire protocol, as the SDK's `databento.live` speaks it: the gateway greets (``lsg_version=``) and
sends a CRAM challenge (``cram=``); the client answers ``auth=<sha256(challenge|key)>-<bucket>`` with
the dataset (the key itself never crosses the wire); the gateway answers ``success=1|session_id=``
(or ``success=0|error=``). The client then sends subscription lines (``schema=|stype_in=|symbols=|
start=``) and ``start_session=0``, after which the gateway streams DBN: the metadata header, a
``SymbolMappingMsg`` per instrument, the intraday replay of every subscription that asked for one
(records with ``ts_event >= start``), a ``REPLAY_COMPLETED`` system message, then live records.

The test drives the market: `publish` appends a bar to the gateway's tape (what intraday replay
serves) and streams it to the sessions that are live; `drop` cuts every connection; `go_down` and
`come_back` stop and restart listening (connections are refused meanwhile).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import databento_dbn as dbn
from databento.common import cram
from databento.live.gateway import (
    AuthenticationRequest,
    AuthenticationResponse,
    ChallengeRequest,
    Greeting,
    SessionStart,
    SubscriptionRequest,
    parse_gateway_message,
)

T = TypeVar("T")
DATASET = "GLBX.MDP3"
_RTYPE = {"ohlcv-1m": dbn.RType.OHLCV_1M, "ohlcv-1s": dbn.RType.OHLCV_1S}
_STYPE = {"continuous": dbn.SType.CONTINUOUS, "parent": dbn.SType.PARENT, "raw_symbol": dbn.SType.RAW_SYMBOL}
_UNDEF_TS = 2**64 - 1


def ns(ts: datetime) -> int:
    return int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000


@dataclass(frozen=True)
class TapeBar:
    schema: str
    instrument_id: int
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: int

    def record(self) -> bytes:
        px = [round(p * 1e9) for p in (self.open, self.high, self.low, self.close)]
        return bytes(dbn.OHLCVMsg(_RTYPE[self.schema], 1, self.instrument_id, self.ts_ns, *px, self.volume))


@dataclass
class _Session:
    writer: asyncio.StreamWriter
    subscriptions: list[SubscriptionRequest] = field(default_factory=list)
    streaming: bool = False


class FakeGateway:
    """Serves the live protocol on 127.0.0.1:`port`; see the module docstring for what it does."""

    def __init__(self, key: str, *, dataset: str = DATASET) -> None:
        self._key = key
        self._dataset = dataset
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-databento-gateway", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._sessions: list[_Session] = []
        self.port = 0
        self.instruments: dict[int, str] = {}  # instrument_id -> raw symbol, sent as symbol mappings
        self.tape: list[TapeBar] = []
        self.subscriptions: list[SubscriptionRequest] = []  # every request, every connection, in order
        self.control_lines: list[str] = []  # every control line a client sent
        self.connections = 0
        self.authenticated = 0

    # --- the test's side --------------------------------------------------------------------------

    def start(self) -> FakeGateway:
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def add_instrument(self, instrument_id: int, raw_symbol: str) -> None:
        """An instrument the subscription resolves to (a roll adds one while sessions stream)."""
        self.instruments[instrument_id] = raw_symbol
        self._call(self._broadcast_mapping(instrument_id))

    def publish(self, bar: TapeBar, *, live: bool = True) -> None:
        """Append to the tape (replayable); stream to live sessions unless `live` is False."""
        self.tape.append(bar)
        if live:
            self._call(self._broadcast(bar.schema, bar.record()))

    def send_partial(self, bar: TapeBar) -> None:
        """Stream a record that is NOT on the tape (a provisional one the tape will not replay)."""
        self._call(self._broadcast(bar.schema, bar.record()))

    def end_of_interval(self, schema: str, end: datetime) -> None:
        msg = dbn.SystemMsg(ns(end), f"End of interval for {schema}", code=dbn.SystemCode.END_OF_INTERVAL)
        self._call(self._broadcast(schema, bytes(msg)))

    def drop(self) -> None:
        """Cut every connection at once (a network failure as the client sees it)."""
        self._call(self._drop())

    def go_down(self) -> None:
        """Stop listening and cut every connection: connections are refused until `come_back`."""
        self._call(self._shutdown())

    def come_back(self) -> None:
        self._call(self._listen())

    def live_sessions(self) -> int:
        return sum(s.streaming for s in self._sessions)

    # --- the gateway's side -----------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._drop()

    async def _drop(self) -> None:
        for session in self._sessions:
            transport = session.writer.transport
            transport.abort()
        self._sessions = []

    async def _broadcast(self, schema: str, data: bytes) -> None:
        for session in self._sessions:
            if session.streaming and any(str(s.schema) == schema for s in session.subscriptions):
                session.writer.write(data)
                await session.writer.drain()

    async def _broadcast_mapping(self, instrument_id: int) -> None:
        for session in self._sessions:
            if session.streaming:
                session.writer.write(self._mapping(session, instrument_id))
                await session.writer.drain()

    def _mapping(self, session: _Session, instrument_id: int) -> bytes:
        sub = session.subscriptions[0]
        msg = dbn.SymbolMappingMsg(
            1,
            instrument_id,
            0,
            _STYPE[str(sub.stype_in)],
            str(sub.symbols),
            dbn.SType.RAW_SYMBOL,
            self.instruments[instrument_id],
            0,
            _UNDEF_TS,
        )
        return bytes(msg)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        session = _Session(writer)
        self._sessions.append(session)
        try:
            if await self._authenticate(reader, writer) and await self._await_start(reader, session):
                await self._stream_start(session)
                await reader.read()  # hold the connection until the client or `drop` ends it
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
            writer.close()

    async def _line(self, reader: asyncio.StreamReader) -> str:
        line = (await reader.readline()).decode()
        if line:
            self.control_lines.append(line)
        return line

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        challenge = secrets.token_hex(16)
        writer.write(bytes(Greeting(lsg_version="fake-0.1")) + bytes(ChallengeRequest(cram=challenge)))
        await writer.drain()
        line = await self._line(reader)
        if not line:
            return False
        request = parse_gateway_message(line)
        good = (
            isinstance(request, AuthenticationRequest)
            and request.auth == cram.get_challenge_response(challenge, self._key)
            and request.dataset == self._dataset
        )
        if not good:
            writer.write(bytes(AuthenticationResponse(success="0", error="Authentication failed.")))
            await writer.drain()
            return False
        self.authenticated += 1
        writer.write(bytes(AuthenticationResponse(success="1", session_id=str(self.connections))))
        await writer.drain()
        return True

    async def _await_start(self, reader: asyncio.StreamReader, session: _Session) -> bool:
        while True:
            line = await self._line(reader)
            if not line:
                return False
            message = parse_gateway_message(line)
            if isinstance(message, SubscriptionRequest):
                session.subscriptions.append(message)
                self.subscriptions.append(message)
            elif isinstance(message, SessionStart):
                return bool(session.subscriptions)

    async def _stream_start(self, session: _Session) -> None:
        first = session.subscriptions[0]
        start_ns = ns(datetime.now().astimezone())
        meta = dbn.Metadata(
            dataset=self._dataset,
            start=start_ns,
            stype_in=_STYPE[str(first.stype_in)],
            stype_out=dbn.SType.INSTRUMENT_ID,
            schema=None,
            symbols=[],
        )
        out = bytearray(meta.encode())
        for instrument_id in self.instruments:
            out += self._mapping(session, instrument_id)
        for sub in session.subscriptions:
            if sub.start is None:
                continue
            since = int(sub.start)
            for bar in sorted(self.tape, key=lambda b: (b.ts_ns, b.instrument_id)):
                if bar.schema == str(sub.schema) and bar.ts_ns >= since:
                    out += bar.record()
            done = dbn.SystemMsg(start_ns, f"Finished {sub.schema} replay", code=dbn.SystemCode.REPLAY_COMPLETED)
            out += bytes(done)
        session.writer.write(bytes(out))
        await session.writer.drain()
        session.streaming = True
