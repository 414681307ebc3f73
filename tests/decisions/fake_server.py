"""A real HTTP server on 127.0.0.1 that answers like the OpenAI and Anthropic APIs (through `FakeLLM`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2

from .fakes import FakeLLM


@contextmanager
def serve(openai: FakeLLM, anthropic: FakeLLM) -> Iterator[str]:
    """Yields the base URL; POST /v1/responses goes to `openai`, POST /v1/messages to `anthropic`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            fake = openai if self.path.endswith("/responses") else anthropic
            request = httpx2.Request("POST", f"http://127.0.0.1{self.path}", content=body, headers=dict(self.headers))
            response = fake._handle(request)
            payload = response.content
            try:
                self.send_response(response.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key in ("retry-after",):
                    if key in response.headers:
                        self.send_header(key, response.headers[key])
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up first (the timeout test)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
