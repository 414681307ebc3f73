"""An LLM decider over any `LLMClient`: builds the prompt, asks once per batch, checks the answer.

The answer must hold exactly one entry per candidate id with action take/skip, an integer
confidence 0-100 and a reason; anything else is a `DecisionError` (the guard turns it into a
``parse_error`` decided by the fallback, never into a skip).

The confidence threshold (seed: >= 85, adaptive 82-92) is applied here: a "take" whose stated
confidence is below the threshold at the decision time becomes a skip, and its reason says so.
A batch's tokens and cost are carried by its first decision, so that journal sums are exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mesdesk.decide.calibration import ConfidencePolicy, FixedThreshold
from mesdesk.decide.prompt import SEED_TERMS, Prompt, TradeTerms, build_prompt
from mesdesk.decider import DecisionContext
from mesdesk.errors import DecisionError
from mesdesk.llm.client import LLMClient, LLMReply
from mesdesk.model import Candidate, Decision, DecisionStatus

MAX_REASON_CHARS = 300


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str
    action: Literal["take", "skip"]
    confidence: int = Field(ge=0, le=100)
    reason: str


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    decisions: list[_Item]


def parse_answer(data: Mapping[str, Any], ids: Sequence[str]) -> dict[str, _Item]:
    """Items by id; DecisionError when the answer is off the schema or does not cover every id once."""
    try:
        answer = _Answer.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DecisionError(f"answer off the schema at {where or 'top'}: {first['msg']}") from exc
    items: dict[str, _Item] = {}
    for item in answer.decisions:
        if item.id in items:
            raise DecisionError(f"answer decides candidate {item.id} twice")
        items[item.id] = item
    missing = [i for i in ids if i not in items]
    extra = sorted(set(items) - set(ids))
    if missing or extra:
        raise DecisionError(f"answer does not match the candidates: missing {missing}, unknown {extra}")
    return items


class LLMDecider:
    """Decides a batch in one call through `client`; usable alone or under `guarded(...)`."""

    def __init__(
        self, client: LLMClient, *, policy: ConfidencePolicy | None = None, terms: TradeTerms = SEED_TERMS
    ) -> None:
        self.client = client
        self.terms = terms
        self.policy: ConfidencePolicy = policy if policy is not None else FixedThreshold()

    @property
    def provider(self) -> str:
        return self.client.provider

    @property
    def model(self) -> str:
        return self.client.model

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    def build_prompt(self, candidates: Sequence[Candidate], context: DecisionContext) -> Prompt:
        return build_prompt(candidates, context, self.terms)

    def decisions(
        self, reply: LLMReply, prompt: Prompt, candidates: Sequence[Candidate], now: datetime, *, cached: bool = False
    ) -> list[Decision]:
        """Turn a reply into one decision per candidate (raises DecisionError when off the schema)."""
        items = parse_answer(reply.data, prompt.ids)
        threshold = self.policy.threshold(now)
        source = f"{self.name} (cache)" if cached else self.name
        out: list[Decision] = []
        for position, cid in enumerate(prompt.ids):
            item = items[cid]
            reason = " ".join(item.reason.split())[:MAX_REASON_CHARS]
            take = item.action == "take"
            if take and item.confidence < threshold:
                take = False
                reason = f"said take at {item.confidence} < threshold {threshold:g}: {reason}"
            first = position == 0 and not cached
            out.append(
                Decision(
                    take=take,
                    confidence=float(item.confidence),
                    reason=reason,
                    source=source,
                    status=DecisionStatus.TAKE if take else DecisionStatus.SKIP,
                    calibrated=self.policy.calibrated(float(item.confidence), now),
                    input_tokens=reply.input_tokens if first else 0,
                    output_tokens=reply.output_tokens if first else 0,
                    cost_usd=reply.cost_usd if first else 0.0,
                    latency_ms=reply.latency_ms if position == 0 else 0.0,
                )
            )
        return out

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        """Ask without budget or cache (errors propagate: wrap in `guarded` for fallbacks)."""
        if not candidates:
            return []
        prompt = self.build_prompt(candidates, context)
        reply = self.client.complete_json(prompt.system, prompt.user, prompt.schema, prompt.schema_name)
        return self.decisions(reply, prompt, candidates, context.now)
