"""HTTP GET with retries for the data providers, turning every failure into a typed `ProviderError`.

Retried: 429 (rate limit), 5xx, timeouts and refused connections, with exponential backoff
(a `Retry-After` header in seconds is honoured up to `max_backoff_s`). Not retried: 401/403 (bad
key) and other 4xx. After the last attempt the error carries a `kind`:

- ``auth``: 401 or 403, the key is missing, wrong or lacks the permission;
- ``rate_limit``: 429 on every attempt;
- ``server``: 5xx on every attempt, or no connection could be made;
- ``timeout``: no answer within `timeout_s` on every attempt;
- ``request``: another 4xx (an unknown series or symbol, a bad parameter);
- ``payload``: the body is not the JSON the caller expects (raised by the callers).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from mesdesk.errors import ProviderError

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a provider call is retried."""

    attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    timeout_s: float = 30.0

    def delay_s(self, attempt: int, retry_after: str | None = None) -> float:
        """Wait before retry number `attempt` (1-based): backoff * 2**(attempt-1), or Retry-After."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff_s)
            except ValueError:
                pass
        return float(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))


def _error_text(response: requests.Response, limit: int = 200) -> str:
    """A short reason from an error body (JSON message fields first), for one-line errors."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:limit]
    if isinstance(body, dict):
        for key in ("error_message", "message", "detail", "description"):
            if isinstance(body.get(key), str):
                return str(body[key])[:limit]
        err = body.get("error") or (body.get("chart") or {}).get("error")
        if isinstance(err, dict):
            return str(err.get("description") or err.get("message") or err)[:limit]
        if isinstance(err, str):
            return err[:limit]
    return str(body)[:limit]


def status_error(response: requests.Response, *, provider: str, what: str) -> ProviderError:
    """The typed error for a non-2xx answer that will not be retried (or was retried in vain)."""
    code = response.status_code
    reason = _error_text(response)
    if code in (401, 403):
        return ProviderError(f"{what}: HTTP {code}, key refused ({reason})", provider=provider, kind="auth")
    if code == 429:
        return ProviderError(f"{what}: HTTP 429, rate limited ({reason})", provider=provider, kind="rate_limit")
    if code >= 500:
        return ProviderError(f"{what}: HTTP {code}, server error ({reason})", provider=provider, kind="server")
    return ProviderError(f"{what}: HTTP {code} ({reason})", provider=provider, kind="request")


def _retryable(code: int) -> bool:
    return code == 429 or code >= 500


def get_with_retry(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    provider: str,
    what: str,
    policy: RetryPolicy,
    sleep: Sleep = time.sleep,
    classify: Callable[[requests.Response], ProviderError | None] | None = None,
) -> requests.Response:
    """GET `url`; returns the 2xx response or raises `ProviderError` (see the module doc for kinds).

    `classify` may turn a particular answer into a specific error first (e.g. FRED answers a bad
    key with 400); it is consulted before the generic status mapping and is never retried.
    """
    last: ProviderError | None = None
    for attempt in range(1, policy.attempts + 1):
        retry_after: str | None = None
        try:
            response = session.get(url, params=params, headers=headers, timeout=policy.timeout_s)
        except requests.Timeout:
            last = ProviderError(f"{what}: no answer within {policy.timeout_s:g} s", provider=provider, kind="timeout")
        except requests.ConnectionError as exc:
            last = ProviderError(f"{what}: cannot connect ({type(exc).__name__})", provider=provider, kind="server")
        except requests.RequestException as exc:  # a bad URL or the like: retrying cannot help
            reason = re.sub(r"\?\S*", "?...", str(exc))  # never echo query strings: they may hold a key
            raise ProviderError(f"{what}: request failed ({reason})", provider=provider, kind="request") from None
        else:
            special = classify(response) if classify is not None else None
            if special is not None:
                raise special
            if response.ok:
                return response
            last = status_error(response, provider=provider, what=what)
            if not _retryable(response.status_code):
                raise last
            retry_after = response.headers.get("Retry-After")
        if attempt < policy.attempts:
            delay = policy.delay_s(attempt, retry_after)
            log.info("%s: %s; retry %d/%d in %.1f s", provider, last, attempt, policy.attempts - 1, delay)
            sleep(delay)
    assert last is not None
    message = str(last).removeprefix(f"{provider}: ")
    raise ProviderError(f"{message}; gave up after {policy.attempts} attempts", provider=provider, kind=last.kind)
