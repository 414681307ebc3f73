"""The demo job: placeholder until the synthetic market lands (foundation issue)."""

from __future__ import annotations

from mesdesk.errors import ConfigError


def run_demo(*, days: int, seed: int) -> None:
    raise ConfigError(f"demo (days={days}, seed={seed}) needs the synthetic market, not built yet")
