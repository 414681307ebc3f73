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


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MESDESK_LLM_PRICES": "notjson"}, "MESDESK_LLM_PRICES"),
        ({"FRONTEND_CORS_ORIGIN": "not a url, ,;;"}, "FRONTEND_CORS_ORIGIN"),
        ({"FRONTEND_CORS_ORIGIN": "http://localhost:5173/app"}, "FRONTEND_CORS_ORIGIN"),
        ({"FRONTEND_CORS_ORIGIN": "localhost:5173"}, "FRONTEND_CORS_ORIGIN"),
    ],
)
def test_bad_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=variable) as exc:
        load_settings()
    assert "\n" not in str(exc.value)


def test_good_cors_origins_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTEND_CORS_ORIGIN", "http://localhost:5173, https://desk.example.com")
    assert load_settings().frontend_cors_origin.startswith("http://localhost:5173")


def test_an_uncreatable_data_dir_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = load_settings(MESDESK_DATA_DIR=str(blocker / "sub"))
    with pytest.raises(ConfigError, match="MESDESK_DATA_DIR=.*cannot create the directory"):
        _ = settings.resolved_database_url


def test_a_password_never_appears_in_a_settings_error() -> None:
    from mesdesk.config import mask_password

    assert mask_password("postgresql://desk:hunter2@db:5432/x") == "postgresql://desk:***@db:5432/x"
    with pytest.raises(ConfigError) as exc:
        load_settings(MESDESK_DATABASE_URL="postgresql://desk:hunter2@db:5432/x", DAILY_GPT_CALL_CAP=-1)
    assert "hunter2" not in str(exc.value)
