"""The Anthropic decider: Messages API with a forced tool call (see llm.py and llm_decider.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesdesk.config import Settings
from mesdesk.decide.calibration import ConfidencePolicy
from mesdesk.decide.llm_decider import LLMDecider
from mesdesk.decide.prompt import SEED_TERMS, TradeTerms
from mesdesk.llm.client import make_llm_client

if TYPE_CHECKING:
    import httpx2


class AnthropicDecider(LLMDecider):
    """`MESDESK_ANTHROPIC_MODEL` (default claude-opus-4-5, the seed's "opus") deciding a batch per call."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx2.Client | None = None,
        policy: ConfidencePolicy | None = None,
        terms: TradeTerms = SEED_TERMS,
    ) -> None:
        super().__init__(make_llm_client("anthropic", settings, http_client), policy=policy, terms=terms)
