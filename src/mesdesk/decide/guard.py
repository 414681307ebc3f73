"""`guarded(primary, fallback, budget, cache)`: a decider that never hides a failure.

For an LLM primary the order is: the cache (a hit is reused, nothing is sent), replay (a miss
is not sent: ``cache_miss``), the budget (each request sent takes a slot first: ``over_budget``
when none is left), the provider (``timeout`` or ``provider_error`` after the client's retries),
the answer (``parse_error`` when off the schema). In each failure the fallback decides: the
decision carries the fallback's take/confidence, `status` says what failed, `source` names the
primary that was asked and `fallback` the decider that answered. No failure is ever a skip.

Every answer the provider returned is cached, valid or not, so a replay reproduces parse errors
too; requests that got no answer are not cached (a replay shows them as ``cache_miss``).
The cost of a failed or invalid request is carried by the first decision of its batch.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from mesdesk.decide.llm_decider import LLMDecider
from mesdesk.decider import Decider, DecisionContext
from mesdesk.errors import BudgetExceeded, DecisionError, ProviderError, StoreError
from mesdesk.llm.budget import Budget, Reservation
from mesdesk.llm.cache import DecisionCache, prompt_key
from mesdesk.llm.client import BilledProviderError, LLMReply
from mesdesk.model import Candidate, Decision, DecisionStatus

log = logging.getLogger(__name__)


@dataclass
class _Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0


class _BudgetGate:
    """The `before_attempt` hook: settles the previous attempt, then reserves a slot or refuses."""

    def __init__(
        self, budget: Budget | None, context: DecisionContext, provider: str, model: str, request_key: str = ""
    ) -> None:
        self._budget = budget
        self._key = request_key
        self._now = context.now
        self._provider = provider
        self._model = model
        self._last: Reservation | None = None

    def __call__(self, attempt: int, previous: ProviderError | None) -> None:
        if self._budget is None:
            return
        if previous is not None:
            self.settle_last(error=previous)
        try:
            slot = self._budget.reserve(self._now, provider=self._provider, model=self._model, request_key=self._key)
            if slot is None:
                raise BudgetExceeded(self._budget.status(self._now).paused_reason or "daily cap reached")
            # The mark is committed before the request leaves: a crash after it leaves the slot
            # "sending" (counted, re-asked within it); a crash before it leaves it "reserved" (released).
            self._budget.mark_sending(slot)
        except (SQLAlchemyError, StoreError) as exc:  # no slot can be proven free: send nothing
            raise BudgetExceeded(f"budget store unavailable, nothing sent: {exc}") from exc
        self._last = slot

    def settle_last(self, *, reply: LLMReply | None = None, error: ProviderError | None = None) -> None:
        try:
            self._settle(reply, error)
        except (SQLAlchemyError, StoreError) as exc:  # the slot is taken already; only its details are lost
            log.warning("could not record the outcome of LLM request slot %s: %s", self._last, exc)
        self._last = None

    def _settle(self, reply: LLMReply | None, error: ProviderError | None) -> None:
        if self._budget is None or self._last is None:
            return
        if reply is not None:
            self._budget.settle(
                self._last,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost_usd=reply.cost_usd,
                latency_ms=reply.latency_ms,
            )
        else:
            self._budget.settle(self._last, error=error)


class GuardedDecider:
    """See the module docstring; build it with `guarded(...)`."""

    def __init__(
        self, primary: Decider, fallback: Decider, budget: Budget | None = None, cache: DecisionCache | None = None
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.budget = budget
        self.cache = cache

    @property
    def name(self) -> str:
        return self.primary.name

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        if not candidates:
            return []
        if isinstance(self.primary, LLMDecider):
            return self._decide_llm(self.primary, candidates, context)
        try:
            out = self.primary.decide(candidates, context)
        except ProviderError as exc:
            status = DecisionStatus.TIMEOUT if exc.kind == "timeout" else DecisionStatus.PROVIDER_ERROR
            return self._fall_back(candidates, context, status, f"{exc.kind}: {exc}")
        except DecisionError as exc:
            return self._fall_back(candidates, context, DecisionStatus.PARSE_ERROR, str(exc))
        if len(out) != len(candidates):
            reason = f"{self.primary.name} returned {len(out)} decisions for {len(candidates)} candidates"
            return self._fall_back(candidates, context, DecisionStatus.PARSE_ERROR, reason)
        return out

    def _decide_llm(
        self, primary: LLMDecider, candidates: Sequence[Candidate], context: DecisionContext
    ) -> list[Decision]:
        prompt = primary.build_prompt(candidates, context)
        key = prompt_key(primary.provider, primary.model, prompt.system, prompt.user, prompt.schema, prompt.schema_name)
        hit = self.cache.get(key) if self.cache is not None else None
        batch_key = request_key(candidates)
        if hit is not None:
            # The answer bought for these very candidates (a crash came between buying and
            # recording it) is the original decision, not a cache hit: the journal stays the same.
            bought = self._bought(batch_key, hit)
            try:
                return primary.decisions(hit, prompt, candidates, context.now, cached=not bought)
            except DecisionError as exc:
                return self._fall_back(candidates, context, DecisionStatus.PARSE_ERROR, f"cached answer: {exc}")
        if self.cache is not None and not self.cache.may_send:
            reason = f"replay: no cached answer for prompt {key.prompt_sha256[:12]}"
            return self._fall_back(candidates, context, DecisionStatus.CACHE_MISS, reason)

        gate = _BudgetGate(self.budget, context, primary.provider, primary.model, batch_key)
        try:
            reply = primary.client.complete_json(
                prompt.system, prompt.user, prompt.schema, prompt.schema_name, before_attempt=gate
            )
        except BudgetExceeded as exc:
            return self._fall_back(candidates, context, DecisionStatus.OVER_BUDGET, str(exc))
        except ProviderError as exc:
            gate.settle_last(error=exc)
            status = DecisionStatus.TIMEOUT if exc.kind == "timeout" else DecisionStatus.PROVIDER_ERROR
            billed = None
            if isinstance(exc, BilledProviderError):
                billed = _Usage(exc.input_tokens, exc.output_tokens, exc.cost_usd)
            return self._fall_back(candidates, context, status, f"{exc.kind}: {exc}", billed)
        if self.cache is not None:  # cached before the slot is settled: see `_bought`
            self.cache.put(key, prompt.schema_name, reply)
        gate.settle_last(reply=reply)
        spent = _Usage(reply.input_tokens, reply.output_tokens, reply.cost_usd, reply.latency_ms)
        try:
            return primary.decisions(reply, prompt, candidates, context.now)
        except DecisionError as exc:
            return self._fall_back(candidates, context, DecisionStatus.PARSE_ERROR, str(exc), spent)

    def _bought(self, batch_key: str, hit: LLMReply) -> bool:
        if self.budget is None:
            return False
        try:
            return self.budget.recover(batch_key, hit)
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("could not check the ledger for %s: %s", batch_key, exc)
            return False

    def _fall_back(
        self,
        candidates: Sequence[Candidate],
        context: DecisionContext,
        status: DecisionStatus,
        why: str,
        spent: _Usage | None = None,
    ) -> list[Decision]:
        decided = self.fallback.decide(candidates, context)
        if len(decided) != len(candidates):
            raise DecisionError(f"fallback {self.fallback.name} returned {len(decided)} for {len(candidates)}")
        usage = spent or _Usage()
        out = []
        for i, d in enumerate(decided):
            first = i == 0
            out.append(
                replace(
                    d,
                    status=status,
                    source=self.primary.name,
                    fallback=d.fallback or d.source,
                    reason=f"{status.value}: {why[:300]} | {d.source}: {d.reason}",
                    calibrated=None,
                    input_tokens=usage.input_tokens if first else 0,
                    output_tokens=usage.output_tokens if first else 0,
                    cost_usd=usage.cost_usd if first else 0.0,
                    latency_ms=usage.latency_ms if first else 0.0,
                )
            )
        return out


def request_key(candidates: Sequence[Candidate]) -> str:
    """The ledger key of one batch request: its candidate's key, or the first key, the count and a
    hash of all keys for a batch (a candidate is decided in exactly one batch)."""
    keys = [c.key for c in candidates]
    if len(keys) == 1:
        return keys[0]
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return f"{keys[0]}+{len(keys) - 1}:{digest}"


def guarded(
    primary: Decider, fallback: Decider, budget: Budget | None = None, cache: DecisionCache | None = None
) -> GuardedDecider:
    """Use `fallback` on an exhausted budget, a replay miss, a provider error, a timeout or a parse error."""
    return GuardedDecider(primary, fallback, budget, cache)
