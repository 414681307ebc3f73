import pytest

from mesdesk.config import load_settings
from mesdesk.errors import ConfigError


def test_bad_cap_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAILY_GPT_CALL_CAP", "abc")
    with pytest.raises(ConfigError, match="DAILY_GPT_CALL_CAP"):
        load_settings()


def test_bad_zone_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEZONE", "Mars/Base")
    with pytest.raises(ConfigError, match="TIMEZONE"):
        load_settings()
