"""Settings from the environment (and `.env`): the seeds' variables plus `MESDESK_*` ones.

The seeds' names are kept exactly (TIMEZONE, DAILY_GPT_CALL_CAP, DAILY_POINT_STOP,
FRONTEND_CORS_ORIGIN, OPENAI_API_KEY, ANTHROPIC_API_KEY, DATABENTO_API_KEY, FRED_API_KEY).
Settings are read when `load_settings()` is called, never at import.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from mesdesk.errors import ConfigError


class Settings(BaseSettings):
    """Every environment variable mesdesk reads, validated once at start."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        case_sensitive=False,
    )

    timezone: str = Field("America/Chicago", validation_alias="TIMEZONE")
    daily_gpt_call_cap: int = Field(5, ge=0, le=10_000, validation_alias="DAILY_GPT_CALL_CAP")
    daily_point_stop: float = Field(-3.0, le=0.0, validation_alias="DAILY_POINT_STOP")
    frontend_cors_origin: str = Field("*", validation_alias="FRONTEND_CORS_ORIGIN")
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    anthropic_api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY")
    databento_api_key: SecretStr | None = Field(None, validation_alias="DATABENTO_API_KEY")
    fred_api_key: SecretStr | None = Field(None, validation_alias="FRED_API_KEY")

    data_dir: Path = Field(Path(".mesdesk"), validation_alias="MESDESK_DATA_DIR")
    database_url: str | None = Field(None, validation_alias="MESDESK_DATABASE_URL")
    api_token: SecretStr | None = Field(None, validation_alias="MESDESK_API_TOKEN")
    rth_end: str = Field("15:00", pattern=r"^(15:00|15:15)$", validation_alias="MESDESK_RTH_END")
    fred_base_url: str = Field("https://api.stlouisfed.org", validation_alias="MESDESK_FRED_BASE_URL")
    fred_series: str = Field("VIXCLS,DFF,DTWEXBGS,DEXCHUS", validation_alias="MESDESK_FRED_SERIES")
    # Live paper trading holds new entries while the newest bar closed longer ago than this (seconds).
    max_feed_delay_s: float = Field(90.0, gt=0.0, le=86_400.0, validation_alias="MESDESK_MAX_FEED_DELAY_S")

    # LLM deciders and the LLM layer (llm/client.py); prices are USD per 1M tokens (input, output).
    decider: Literal["auto", "local", "openai", "anthropic"] = Field("auto", validation_alias="MESDESK_DECIDER")
    learning: bool = Field(True, validation_alias="MESDESK_LEARNING")
    openai_model: str = Field("gpt-5-mini", min_length=1, validation_alias="MESDESK_OPENAI_MODEL")
    anthropic_model: str = Field("claude-opus-4-5", min_length=1, validation_alias="MESDESK_ANTHROPIC_MODEL")
    openai_base_url: str | None = Field(None, validation_alias="MESDESK_OPENAI_BASE_URL")
    anthropic_base_url: str | None = Field(None, validation_alias="MESDESK_ANTHROPIC_BASE_URL")
    llm_timeout_s: float = Field(20.0, gt=0.0, le=600.0, validation_alias="MESDESK_LLM_TIMEOUT_S")
    llm_max_retries: int = Field(1, ge=0, le=5, validation_alias="MESDESK_LLM_MAX_RETRIES")
    llm_max_output_tokens: int = Field(4000, ge=64, le=64_000, validation_alias="MESDESK_LLM_MAX_OUTPUT_TOKENS")
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"gpt-5-mini": (0.25, 2.0), "claude-opus-4-5": (5.0, 25.0)},
        validation_alias="MESDESK_LLM_PRICES",
    )
    decision_cache_mode: Literal["record", "replay", "off"] = Field(
        "record", validation_alias="MESDESK_DECISION_CACHE_MODE"
    )

    # forecast (/mes/forecast, mesdesk forecast, mesdesk train-autogluon)
    forecast_cache_s: float = Field(900.0, ge=0.0, le=86_400.0, validation_alias="MESDESK_FORECAST_CACHE_S")
    forecast_days_back: int = Field(90, ge=5, le=3_650, validation_alias="MESDESK_FORECAST_DAYS_BACK")
    autogluon_models_dir: Path = Field(Path("models"), validation_alias="MESDESK_AUTOGLUON_MODELS_DIR")
    autogluon_output_dir: Path = Field(Path("output"), validation_alias="MESDESK_AUTOGLUON_OUTPUT_DIR")

    @field_validator(
        "openai_api_key",
        "anthropic_api_key",
        "databento_api_key",
        "fred_api_key",
        "database_url",
        "api_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`KEY=` (as copied from .env.example) means "not set", not an empty key."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. America/Chicago)") from exc
        return value

    @field_validator("llm_prices")
    @classmethod
    def _prices_non_negative(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for model, (usd_in, usd_out) in value.items():
            if usd_in < 0 or usd_out < 0:
                raise ValueError(f"price of {model!r} must be >= 0 USD per 1M tokens")
        return value

    @field_validator("frontend_cors_origin")
    @classmethod
    def _origins(cls, value: str) -> str:
        """`*` or a comma-separated list of origins (scheme://host[:port], no path)."""
        items = [o.strip() for o in value.split(",")]
        if value.strip() == "*":
            return value
        if not value.strip() or any(not o for o in items):
            raise ValueError("expected * or comma-separated origins like http://localhost:5173 (no empty items)")
        for origin in items:
            parts = urlsplit(origin)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/")
            try:
                ok = ok and (parts.port is None or parts.port > 0)
            except ValueError:
                ok = False
            if not ok or parts.query or parts.fragment or parts.username:
                raise ValueError(
                    f"{origin!r} is not an origin (expected scheme://host[:port], e.g. http://localhost:5173)"
                )
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def fred_series_ids(self) -> tuple[str, ...]:
        """The FRED series fetched by default (MESDESK_FRED_SERIES, comma-separated)."""
        return tuple(s.strip().upper() for s in self.fred_series.split(",") if s.strip())

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: MESDESK_DATABASE_URL, else a SQLite file under the data dir.

        The data dir is mesdesk's own: it is created when missing (ConfigError when it cannot be).
        A directory named in MESDESK_DATABASE_URL is never created (a typo must not become a new,
        empty database): the store refuses it.
        """
        if self.database_url:
            return self.database_url
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"MESDESK_DATA_DIR={str(self.data_dir)!r}: cannot create the directory ({exc.strerror})"
            ) from None
        return f"sqlite:///{(self.data_dir / 'mesdesk.sqlite').as_posix()}"


_ALIASES = {name: (f.validation_alias or name) for name, f in Settings.model_fields.items()}


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad value raises `ConfigError` naming the variable and what it accepts."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:  # a JSON setting that is not JSON: pydantic-settings names the field
        found = re.search(r'field "(\w+)"', str(exc))
        field = found.group(1) if found else "?"
        var = str(_ALIASES.get(field, field)).upper()
        raise ConfigError(f"bad setting: {var}: expected JSON, e.g. {_JSON_EXAMPLES.get(field, '{}')}") from None
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else "?"
            var = str(_ALIASES.get(loc, loc)).upper()
            shown = "'***'" if loc in _SECRETS else mask_password(repr(err.get("input")))
            problems.append(f"{var}={shown}: {err['msg']}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None


_SECRETS = frozenset({"openai_api_key", "anthropic_api_key", "databento_api_key", "fred_api_key", "api_token"})
_JSON_EXAMPLES = {"llm_prices": '{"gpt-5-mini": [0.25, 2.0]}'}
_URL_PASSWORD = re.compile(r"(//[^/@\s:]*:)[^@\s]*@")


def mask_password(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***: user:secret@host -> user:***@host."""
    return _URL_PASSWORD.sub(r"\1***@", text)
