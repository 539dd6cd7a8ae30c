"""Settings from environment variables or constructor arguments (pydantic-settings).

Environment names are `DRAFTS_<FIELD>` (e.g. `DRAFTS_POLL_INTERVAL=0.05`); the Redis URL also reads
the conventional `REDIS_URL`. Defaults are production timings on an embedded fakeredis.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRAFTS_", extra="ignore")

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
