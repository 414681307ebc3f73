"""GET /metrics/summary under load from a second process on loopback, with the runner trading.

Starts `mesdesk serve` (one uvicorn worker; the runner in its own supervised process, synthetic replay
at --speed; SQLite in a temp folder) in a subprocess, waits until the runner has traded, then drives
keep-alive HTTP/1.1 connections from this process (asyncio streams, no client library overhead) for
--seconds and prints requests/s, latency percentiles and the runner's bars per second over the same
window (from its stored cursor). Target at 16 connections with the runner at 60x: >= 2,000 requests/s
and p99 < 20 ms.

    python benchmarks/api_load.py [--seconds 10] [--connections 16] [--speed 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:  # loopback only
        return bytes(r.read())


async def worker(port: int, path: str, stop_at: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n")[0].decode())
    finally:
        writer.close()


async def load(port: int, path: str, seconds: float, connections: int) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(*(worker(port, path, stop_at, latencies, errors) for _ in range(connections)))
    return latencies, errors, time.perf_counter() - start


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run the client on uvloop when installed: the client shares the machine's cores with the server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def last_bar(status: dict[str, Any]) -> datetime | None:
    raw = status.get("last_bar_ts")
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


def pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--path", default="/metrics/summary")
    ap.add_argument("--no-runner", action="store_true", help="serve the API only (the ceiling without trading)")
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "MESDESK_DATA_DIR": tmp,
            "MESDESK_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
            "OPENAI_API_KEY": "",  # the rule decider: a benchmark makes no paid call
            "ANTHROPIC_API_KEY": "",
        }
        cmd = [sys.executable, "-c", "from mesdesk.cli import main; main()", "serve", "--port", str(port)]
        cmd += ["--speed", str(args.speed), "--from", "08:30", "--log-level", "warning"]
        if args.no_runner:
            cmd.append("--no-runner")
        server = subprocess.Popen(cmd, env=env, cwd=tmp)  # noqa: S603
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    body = get(base + "/metrics/summary")
                    if args.no_runner or b'"trades_today":0' not in body:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            load_before = os.getloadavg()
            before = json.loads(get(base + "/metrics/runner"))
            latencies, errors, elapsed = run_loop(load(port, args.path, args.seconds, args.connections))
            after = json.loads(get(base + "/metrics/runner"))
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(20)
    latencies.sort()
    runner = "no runner" if args.no_runner else f"runner replaying at x{args.speed:g}"
    print(f"path {args.path}, {args.connections} keep-alive connections, {args.seconds:.0f} s, {runner}")
    t0, t1 = last_bar(before), last_bar(after)
    if t0 is not None and t1 is not None:
        bars = (t1 - t0).total_seconds() / 60  # one-minute bars
        rate = bars / elapsed
        print(f"runner: {bars:.0f} bars in {elapsed:.1f} s = {rate:.2f} bars/s (last bar {after['last_bar_ct']} CT)")
    process = after.get("process") or {}
    print(f"runner process: pid {process.get('pid')}, alive {process.get('alive')}, restarts {process.get('restarts')}")
    print(f"trades today: {after.get('trades_today')}, position open: {after.get('position') is not None}")
    print(f"requests {len(latencies)}, errors {len(errors)}, {len(latencies) / elapsed:,.0f} requests/s")
    print(
        f"latency ms: p50 {pct(latencies, 0.50):.2f}  p90 {pct(latencies, 0.90):.2f}  "
        f"p99 {pct(latencies, 0.99):.2f}  max {latencies[-1] * 1000:.2f}"
    )
    print(f"cpu cores visible: {os.cpu_count()}, load average (1/5/15 min) before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
