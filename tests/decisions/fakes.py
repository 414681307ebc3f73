"""Fakes of the OpenAI Responses and Anthropic Messages wire formats, served through httpx2.MockTransport.

Each fake answers from a script of behaviours ("ok", "off_schema", "not_json", "refusal", "429",
"500", "401", "timeout") and records every request it saw, so tests can count what reached the wire.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def openai_body(
    model: str, text: str | None, *, refusal: str | None = None, tokens: tuple[int, int] = (120, 40)
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "output_text", "text": text, "annotations": []})
    if refusal is not None:
        content.append({"type": "refusal", "refusal": refusal})
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1737387000,
        "model": model,
        "status": "completed",
        "output": [
            {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant", "content": content}
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "total_tokens": sum(tokens),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def anthropic_body(
    model: str,
    tool_name: str,
    tool_input: dict[str, Any] | None,
    *,
    stop_reason: str = "tool_use",
    tokens: tuple[int, int] = (130, 45),
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if tool_input is not None:
        content.append({"type": "tool_use", "id": "toolu_fake", "name": tool_name, "input": tool_input})
    else:
        content.append({"type": "text", "text": "I cannot help with that."})
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "content": content,
        "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
    }


@dataclass
class FakeLLM:
    """A scripted provider. `answer(request_json)` builds the data of an "ok" reply."""

    provider: str
    answer: Answer
    script: list[str] = field(default_factory=lambda: ["ok"])
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    slow_s: float = 2.0

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._handle)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=self.transport())

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if step == "timeout":
            raise httpx2.ReadTimeout("fake: no answer", request=request)
        if step == "slow":  # over a real socket this trips the client's timeout
            time.sleep(self.slow_s)
            step = "ok"
        if step in ("429", "500", "401"):
            kind = {"429": "rate_limit_error", "500": "api_error", "401": "authentication_error"}[step]
            return httpx2.Response(
                int(step),
                json={"type": "error", "error": {"type": kind, "message": f"fake {step}"}},
                headers={"retry-after": "0"},
            )
        if self.provider == "openai":
            return httpx2.Response(200, json=self._openai(step, body))
        return httpx2.Response(200, json=self._anthropic(step, body))

    def _openai(self, step: str, body: dict[str, Any]) -> dict[str, Any]:
        model = body["model"]
        if step == "ok":
            return openai_body(model, json.dumps(self.answer(body)))
        if step == "off_schema":
            return openai_body(model, json.dumps({"verdict": "buy everything"}))
        if step == "not_json":
            return openai_body(model, "Sure! I think you should take it.")
        if step == "refusal":
            return openai_body(model, None, refusal="I can't help with trading decisions.")
        raise AssertionError(f"unknown fake step {step!r}")

    def _anthropic(self, step: str, body: dict[str, Any]) -> dict[str, Any]:
        model = body["model"]
        tool = body["tool_choice"]["name"]
        if step == "ok":
            return anthropic_body(model, tool, self.answer(body))
        if step == "off_schema":
            return anthropic_body(model, tool, {"verdict": "buy everything"})
        if step == "not_json":
            return anthropic_body(model, tool, None, stop_reason="end_turn")
        if step == "refusal":
            return anthropic_body(model, tool, None, stop_reason="refusal")
        raise AssertionError(f"unknown fake step {step!r}")
