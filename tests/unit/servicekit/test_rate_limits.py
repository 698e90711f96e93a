"""Token buckets per key: a burst, then refusals naming the wait, refilled at the rate."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lifeline_ingest.app import build_app
from lifeline_ingest.settings import IngestSettings
from lifeline_servicekit.ratelimit import TokenBuckets


def test_a_bucket_allows_its_burst_then_names_the_wait() -> None:
    """Two tokens, then a wait of 1/rate; time refills; keys do not share buckets."""
    now = [0.0]
    buckets = TokenBuckets(per_s=2.0, burst=2.0, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("k") == 0.5
    assert buckets.take("other") == 0.0
    now[0] = 0.5
    assert buckets.take("k") == 0.0


def test_over_the_limit_is_a_429_with_retry_after_and_health_is_never_limited() -> None:
    """A real service edge (no database needed to refuse): read bursts of 2, then 429."""
    keys = '{"k1": {"tenant": "t", "scopes": ["read"]}, "k2": {"tenant": "t", "scopes": ["read"]}}'
    settings = IngestSettings(api_keys=keys, rate_limit_read_per_s=0.01, rate_limit_burst_s=200)
    # not entered: no lifespan, so a request past the limit fails inside (500), never 429
    client = TestClient(build_app(settings), raise_server_exceptions=False)
    headers = {"Authorization": "Bearer k1"}
    statuses = [client.get("/v1/sessions/s-1/wal", headers=headers).status_code for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    refused = client.get("/v1/sessions/s-1/wal", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/sessions/s-1/wal", headers={"Authorization": "Bearer k2"}).status_code != 429
    assert all(client.get("/health").status_code == 200 for _ in range(5))
