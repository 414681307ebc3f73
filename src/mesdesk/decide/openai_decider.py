"""The OpenAI decider: Responses API with a strict JSON schema (see llm.py and llm_decider.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesdesk.config import Settings
from mesdesk.decide.calibration import ConfidencePolicy
from mesdesk.decide.llm_decider import LLMDecider
from mesdesk.decide.prompt import SEED_TERMS, TradeTerms
from mesdesk.llm.client import make_llm_client

if TYPE_CHECKING:
    import httpx2


class OpenAIDecider(LLMDecider):
    """`MESDESK_OPENAI_MODEL` (default gpt-5-mini) deciding a batch per call; needs OPENAI_API_KEY."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx2.Client | None = None,
        policy: ConfidencePolicy | None = None,
        terms: TradeTerms = SEED_TERMS,
    ) -> None:
        super().__init__(make_llm_client("openai", settings, http_client), policy=policy, terms=terms)
