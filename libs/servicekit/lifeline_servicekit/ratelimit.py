"""Rate limits per API key and route class: a token bucket each, 429 with `Retry-After`.

Route classes: `read` (GET, HEAD) and `write` (everything else). Each known key gets a
bucket per class holding up to `burst` tokens, refilled at `per_s`; a request takes one
token or is refused with 429 and the seconds until the next token. Only keys in
`LIFELINE_API_KEYS` get buckets (an unknown key is a 401 anyway), so memory is bounded.
`/health`, `/ready` and `/metrics` are never limited. A rate of 0 turns a class off
(the default: limits are for deployments that share a service between clients).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from lifeline_servicekit.auth import principal_for, token_from_headers
from lifeline_servicekit.problems import problem

LIMITED = Counter("lifeline_rate_limited_total", "Requests refused with 429, by route class.",
                  ["route_class"])
_OPEN = frozenset({"/health", "/ready", "/metrics"})


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """One bucket per key (pure logic; the clock is injectable)."""

    def __init__(self, per_s: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s, self.burst, self._clock = per_s, max(burst, 1.0), clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(self.burst, now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_s)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_s


class RateLimitMiddleware:
    """429 with `Retry-After` for a key over its class's rate (settings: LIFELINE_RATE_LIMIT_*)."""

    def __init__(self, app: ASGIApp, *, read_per_s: float, write_per_s: float, burst_s: float) -> None:
        self.app = app
        self._classes = {name: TokenBuckets(rate, rate * burst_s)
                         for name, rate in (("read", read_per_s), ("write", write_per_s)) if rate > 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._classes or scope["path"] in _OPEN:
            await self.app(scope, receive, send)
            return
        route_class = "read" if scope["method"] in ("GET", "HEAD") else "write"
        buckets = self._classes.get(route_class)
        token = token_from_headers({k.decode("latin-1").lower(): v.decode("latin-1")
                                    for k, v in scope.get("headers", [])})
        known = principal_for(scope["app"].state.settings.api_keys, token) if token else None
        if buckets is None or known is None or not token:
            await self.app(scope, receive, send)
            return
        wait = buckets.take(token)
        if wait > 0:
            LIMITED.labels(route_class).inc()
            answer = problem(429, "Too many requests",
                             f"this key's {route_class} rate ({buckets.per_s:g}/s) is used up; retry later",
                             retry_after_s=math.ceil(wait))
            answer.headers["Retry-After"] = str(math.ceil(wait))
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)
