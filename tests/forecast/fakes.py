"""A scripted LLM provider speaking the OpenAI Responses or Anthropic Messages wire format (httpx2.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2


def _openai(model: str, data: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(data)
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1737387000,
        "model": model,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_fake",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 900,
            "output_tokens": 60,
            "total_tokens": 960,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _anthropic(model: str, tool: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "content": [{"type": "tool_use", "id": "toolu_fake", "name": tool, "input": data}],
        "usage": {"input_tokens": 950, "output_tokens": 70},
    }


@dataclass
class FakeProvider:
    """Answers every request with `answer(request_json)` (or an HTTP error status); records requests."""

    provider: str
    answer: Callable[[dict[str, Any]], dict[str, Any]]
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self._handle))

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.status != 200:
            error = {"type": "error", "error": {"type": "api_error", "message": f"fake {self.status}"}}
            return httpx2.Response(self.status, json=error)
        if self.provider == "openai":
            return httpx2.Response(200, json=_openai(body["model"], self.answer(body)))
        return httpx2.Response(200, json=_anthropic(body["model"], body["tool_choice"]["name"], self.answer(body)))


def horizons_of(body: dict[str, Any]) -> list[str]:
    """The horizons the request's schema asks for (either wire format)."""
    schema = body["text"]["format"]["schema"] if "text" in body else body["tools"][0]["input_schema"]
    return list(schema["properties"]["forecasts"]["required"])
