"""The one place that turns `LIFELINE_BUS_URL` into a concrete bus adapter."""

from __future__ import annotations

from urllib.parse import urlsplit

from lifeline_bus.errors import BusError
from lifeline_bus.ports import Bus


def bus_kind(url: str) -> str:
    """`redis` for redis:// / rediss:// / valkey:// URLs, `kafka` for kafka://host:port,…"""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("redis", "rediss", "valkey", "unix"):
        return "redis"
    if scheme == "kafka":
        return "kafka"
    raise BusError(f"unsupported bus URL scheme {scheme!r}: use redis://… or kafka://host:port")


def create_bus(url: str, *, consumer: str, partitions: int = 8, graceful_timeout: float = 10.0,
               reclaim_idle_ms: int = 15_000, session_timeout_ms: int = 10_000,
               linger_ms: float = 0.0) -> Bus:
    """Build the adapter named by `url`; `consumer` names this process in its groups.

    `linger_ms`: after a batch smaller than a full read, wait this long before the next
    read (lifeline_bus.linger); 0 reads again at once.
    """
    kind = bus_kind(url)
    if kind == "redis":
        from lifeline_bus.redis_streams import RedisStreamsBus

        return RedisStreamsBus(url.replace("valkey://", "redis://", 1), consumer=consumer,
                               graceful_timeout=graceful_timeout, reclaim_idle_ms=reclaim_idle_ms,
                               linger_ms=linger_ms)
    from lifeline_bus.kafka import KafkaBus

    bootstrap = url.split("://", 1)[1].rstrip("/")
    return KafkaBus(bootstrap, client_id=consumer, partitions=partitions,
                    graceful_timeout=graceful_timeout, session_timeout_ms=session_timeout_ms,
                    linger_ms=linger_ms)
