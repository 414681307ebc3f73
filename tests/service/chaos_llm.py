"""A slow fake OpenAI Responses server in its own process, for the chaos test.

Run as ``python -m tests.service.chaos_llm PORT_FILE LOG_FILE DELAY_S``. Every request is appended to
LOG_FILE (one line: the sha256 of its body) as soon as it arrives, before the delayed answer, so a
request killed mid-flight is counted. The answer is a pure function of the candidate ids: take with
confidence 90 when the id's digest is even, else skip with 40; the same prompt always gets the same
answer.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def answer(user: str) -> dict[str, Any]:
    decisions = []
    for cand in json.loads(user)["candidates"]:
        cid = str(cand["id"])
        take = hashlib.sha256(f"{cand}".encode()).digest()[0] % 2 == 0
        decisions.append(
            {"id": cid, "action": "take" if take else "skip", "confidence": 90 if take else 40, "reason": f"fake {cid}"}
        )
    return {"decisions": decisions}


def body(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "resp_chaos",
        "object": "response",
        "created_at": 1737387000,
        "model": model,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_chaos",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 100,
            "output_tokens": 30,
            "total_tokens": 130,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def main(port_file: Path, log_file: Path, delay_s: float) -> None:
    log = log_file.open("a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            log.write(hashlib.sha256(raw).hexdigest() + "\n")
            request = json.loads(raw)
            time.sleep(delay_s)
            payload = json.dumps(body(request["model"], json.dumps(answer(request["input"])))).encode()
            try:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the runner was killed while waiting

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
