"""The exception hierarchy: every error mesdesk raises on purpose is a `MesdeskError`.

- `ConfigError`: a setting or parameter has a value it cannot accept (names the variable).
- `DataError`: bars or series are broken (names the file, the row and the value).
- `ProviderError`: a data or LLM provider failed (auth, rate limit, 5xx, timeout, bad payload).
- `DecisionError`: a decision could not be obtained or parsed.
- `StoreError`: the database refused or holds something inconsistent.
- `BudgetExceeded`: a paid call was refused because the daily cap is reached.
"""

from __future__ import annotations


class MesdeskError(Exception):
    """Base of every error raised on purpose by mesdesk."""


class ConfigError(MesdeskError):
    """A setting, flag or parameter has a value mesdesk cannot accept."""


class DataError(MesdeskError):
    """Market data is missing or inconsistent; the message names where."""


class ProviderError(MesdeskError):
    """An external provider failed; `kind` is auth, rate_limit, server, timeout, payload, refusal or empty.

    `retry_after_s` carries the provider's Retry-After hint (seconds) when it sent one.
    """

    def __init__(self, message: str, *, provider: str, kind: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.kind = kind
        self.retry_after_s = retry_after_s


class DecisionError(MesdeskError):
    """A decision could not be obtained or parsed."""


class StoreError(MesdeskError):
    """The store refused an operation or holds inconsistent state."""


class BudgetExceeded(MesdeskError):
    """The daily paid-call cap is reached; nothing was sent."""
