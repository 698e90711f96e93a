"""Settings every service shares; each service subclasses to add its own.

All settings come from `LIFELINE_`-prefixed environment variables (README lists
them). The defaults point at the embedded stack that `make run` starts.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lifeline_store.compression import DEFAULT_MIN_BYTES, Algorithm


class ApiKeyGrant(BaseModel):
    """What one API key may do: its tenant and scopes, and optionally the only persons it sees."""

    tenant: str
    scopes: list[str] = Field(default_factory=lambda: ["ingest", "read"])
    # None: every person of the tenant; else only these persons' sessions, traces and
    # profiles, in every service, whatever the scopes (lifeline_servicekit.persons)
    persons: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._:@-]{1,128}$")]] | None = Field(
        default=None, min_length=1)


def _default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    """Connection, identity and behaviour settings common to every service."""

    model_config = SettingsConfigDict(env_prefix="LIFELINE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    bus_url: str = ""
    api_keys: dict[str, ApiKeyGrant] = Field(default_factory=dict)
    default_tenant: str = "default"
    instance_id: str = Field(default_factory=_default_instance)
    log_level: str = "INFO"
    otel_exporter: str = "none"
    shutdown_grace_s: float = 10.0
    # on SIGTERM, /ready answers 503 this long before draining starts (blue-green switch-over)
    shutdown_ready_delay_s: float = Field(1.0, ge=0, le=300)
    # token bucket per API key and route class (GET = read, others = write); 0 = no limit
    rate_limit_read_per_s: float = Field(0.0, ge=0)
    rate_limit_write_per_s: float = Field(0.0, ge=0)
    rate_limit_burst_s: float = Field(2.0, gt=0)  # bucket size, in seconds of the rate
    db_pool_size: int = 10
    # at start, wait this long for PostgreSQL (with backoff) before giving up: a service
    # started with (or just before) its database must not exit into a crash loop
    database_wait_s: float = Field(120.0, ge=0)
    # stored blobs (snapshot states) at or above compress_min_bytes get this algorithm; the
    # algorithm is recorded per row, so changing it leaves older rows readable. HTTP answers
    # of that size are compressed as the client's Accept-Encoding asks (zstd, br, gzip).
    compression: Algorithm = "zstd"
    compress_min_bytes: int = Field(DEFAULT_MIN_BYTES, ge=0)
    bus_partitions: int = 8
    bus_reclaim_idle_ms: int = 15_000
    # after a bus batch smaller than a full read, wait this long before the next read, so
    # single-event traffic reaches the consumers in batches (lifeline_bus.linger); 0 = off
    bus_linger_ms: float = Field(40.0, ge=0, le=1000)
    kafka_session_timeout_ms: int = 10_000
    lag_interval_s: float = 5.0
    # where the other services are; a service uses the ones it talks to
    ingest_url: str = "http://127.0.0.1:8001"
    replay_url: str = "http://127.0.0.1:8002"
    memory_url: str = ""
    service_api_key: str = ""
    # browser origins allowed to call this API (the session explorer trace-store serves at /ui/)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8006", "http://localhost:8006"])

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        """A JSON list, or origins separated by commas (an empty value allows none)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @property
    def effective_service_key(self) -> str:
        """The key for calling other services: `service_api_key`, else the first operator key
        (else the first admin key, which serves its own tenant only).

        Services read and write for every tenant, so their key should hold `operator`."""
        if self.service_api_key:
            return self.service_api_key
        for scope in ("operator", "admin"):
            key = next((k for k, g in self.api_keys.items() if scope in g.scopes), "")
            if key:
                return key
        return ""

    @property
    def effective_bus_url(self) -> str:
        """The bus defaults to Redis Streams on the same Redis."""
        return self.bus_url or self.redis_url
