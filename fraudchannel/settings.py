"""Settings: read once from `FRAUDCHANNEL_*` environment variables (and `DATABASE_URL`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, PostgresDsn
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FRAUDCHANNEL_"


def _base_url(value: str) -> str:
    """Return an http(s) base URL as given; refuse anything else (tokens carry it as iss/aud)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, like https://fc.example")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must have no query or fragment (it is the base of every path)")
    return value


class Settings(BaseSettings):
    """Every setting of the service; `FRAUDCHANNEL_<NAME>` sets `<name>`.

    Build it once in `__main__` and pass it down; nothing else reads the environment.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    database_url: PostgresDsn | None = Field(
        None,
        validation_alias=AliasChoices("FRAUDCHANNEL_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL DSN; unset: start the embedded PostgreSQL in pg_data_dir.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8080, ge=0, le=65535, description="Port the HTTP server binds.")
    public_url: Annotated[str, AfterValidator(_base_url)] | None = Field(
        None,
        description=(
            "Public base URL of the service (no trailing slash); the token endpoint's audience is "
            "PUBLIC_URL/oauth/token. Default: http://HOST:PORT."
        ),
    )
    embedded_pg: bool = Field(
        True, description="Start an embedded PostgreSQL when no DATABASE_URL is set."
    )
    pg_data_dir: Path = Field(
        Path(".data/postgres"), description="Embedded PostgreSQL data folder (no DATABASE_URL)."
    )
    pg_port: int | None = Field(
        None, ge=1, le=65535, description="Embedded PostgreSQL port; unset: a free one, kept."
    )
    migrate_on_start: bool = Field(True, description="Apply pending migrations at start-up.")
    db_pool_min: int = Field(2, ge=1, description="Smallest database pool size.")
    db_pool_max: int = Field(10, ge=1, description="Largest database pool size.")
    statement_timeout_ms: int = Field(
        30_000, ge=100, description="PostgreSQL statement_timeout for every pooled connection."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest log level written."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: JSON unless stderr is a terminal."
    )
    access_token_ttl_s: int = Field(
        600, ge=30, le=600, description="Lifetime of issued access tokens, seconds (<= 10 min)."
    )
    assertion_max_ttl_s: int = Field(
        300, ge=30, le=300, description="Longest client assertion lifetime accepted, seconds."
    )
    clock_leeway_s: int = Field(
        30, ge=0, le=30, description="Clock skew allowed on nbf/iat/exp, seconds."
    )
    workers: int = Field(
        0,
        ge=0,
        le=256,
        description="HTTP worker processes; 0: one per usable CPU (within the CPU quota).",
    )
    shutdown_timeout_s: float = Field(
        20.0,
        ge=0,
        le=600,
        description="How long a stopping server lets requests in flight finish, seconds.",
    )
    max_batch_reports: int = Field(
        10_000, ge=1, le=100_000, description="Most reports in one batch."
    )
    max_body_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest request body, bytes (sized for max_batch_reports items).",
    )

    @property
    def base_url(self) -> str:
        """Return the public base URL without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def token_endpoint(self) -> str:
        """Return the token endpoint URL: the `aud` client assertions must name (RFC 7523 §3)."""
        return f"{self.base_url}/oauth/token"


def unknown_env_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Return `FRAUDCHANNEL_*` variables in `environ` that name no setting (typos)."""
    env = os.environ if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known)
