"""Settings: `.env.example` documents every variable; values are validated with the variable named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mesdesk.config import Settings, load_settings
from mesdesk.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    aliases = {str(f.validation_alias or name).upper() for name, f in Settings.model_fields.items()}
    missing = sorted(aliases - listed)
    assert not missing, f".env.example lacks {missing}"


def test_env_example_values_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.daily_gpt_call_cap == 5
    assert settings.rth_end == "15:00"
    assert settings.openai_api_key is None  # an empty KEY= line means "not set"
    assert settings.database_url is None


def test_rth_end_accepts_only_15_00_or_15_15(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESDESK_RTH_END", "16:00")
    with pytest.raises(ConfigError, match="MESDESK_RTH_END"):
        load_settings()
