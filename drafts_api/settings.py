"""Settings from environment variables or constructor arguments (pydantic-settings).

Environment names are `DRAFTS_<FIELD>` (e.g. `DRAFTS_POLL_INTERVAL=0.05`); the Redis URL also reads
the conventional `REDIS_URL`. Defaults are production timings on an embedded fakeredis.

Every value is checked when the settings are built, so a bad one stops the API at start-up rather
than failing each request later; `load_settings` turns the check's report into `InvalidSettings`,
one line naming each setting and the value received.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "DRAFTS_"


class InvalidSettings(ValueError):
    """A setting has a value the API cannot run with; the message is one line naming it and the value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    redis_url: Annotated[
        str | None,
        Field(
            validation_alias=AliasChoices("redis_url", "DRAFTS_REDIS_URL", "REDIS_URL"),
            description="Redis server URL; unset means an embedded fakeredis (no server needed).",
        ),
    ] = None
    poll_interval: Annotated[float, Field(gt=0, le=60, description="Seconds between task-state polls.")] = 1.5
    heartbeat_polls: Annotated[
        int, Field(ge=1, le=1000, description="A comment heartbeat after this many polls without an event.")
    ] = 10
    retry_ms: Annotated[
        int, Field(ge=0, le=600_000, description="The `retry:` reconnect delay the stream asks EventSource for.")
    ] = 3000
    task_ttl: Annotated[int, Field(ge=60, description="Seconds a task's state lives in Redis.")] = 24 * 3600
    key_prefix: Annotated[str, Field(description="Prefix of every Redis key the API writes.")] = "drafts:"
    cors_origins: Annotated[
        list[str], NoDecode, Field(description="Page origins allowed to call the API (comma-separated in env).")
    ] = ["http://localhost:3000", "http://127.0.0.1:3000"]
    cors_origin_regex: Annotated[
        str | None, Field(description="A regex of further allowed origins, e.g. preview deployments.")
    ] = None

    redis_max_connections: Annotated[
        int,
        Field(
            ge=1,
            le=10_000,
            description="Size of the Redis connection pool; a command waits for a free connection when all are busy.",
        ),
    ] = 50
    redis_pool_timeout: Annotated[
        float,
        Field(
            gt=0,
            le=120,
            description="Seconds a command may wait for a free pool connection (redis-py's own default).",
        ),
    ] = 20.0
    max_body_bytes: Annotated[
        int, Field(ge=1024, le=16 * 1024 * 1024, description="Largest request body accepted; larger ones get 413.")
    ] = 64 * 1024

    @field_validator("cors_origin_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Env values arrive as one string: "https://a.example,https://b.example".
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def heartbeat_interval(self) -> float:
        return self.poll_interval * self.heartbeat_polls


def _setting_name(field: str) -> str:
    return "REDIS_URL" if field == "redis_url" else f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """`Settings(**overrides)` (the environment fills the rest); `InvalidSettings` if a value is unusable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "?"
            problems.append(f"{_setting_name(field)}={error.get('input')!r}: {error.get('msg')}")
        raise InvalidSettings("invalid setting " + "; ".join(problems)) from None
