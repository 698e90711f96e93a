"""Appending to ingest over its public HTTP API: the one way tests and benchmarks write events."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from lifeline_testing.processes import TEST_API_KEY, auth


async def append(ingest_url: str, session: str, events: list[dict[str, Any]], *,
                 key: str = TEST_API_KEY, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """POST `events` as one batch; return ingest's per-event results (event_id, seq, duplicate).

    Raises on any non-200 answer, so a test that only means to set the stage fails at the
    append that went wrong rather than at a later, puzzling assertion. `headers` are sent as
    well (a `traceparent`, say). Bodies go through orjson, so datetimes and UUIDs serialize.
    """
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        r = await client.post(f"/v1/sessions/{session}/events", content=orjson.dumps({"events": events}),
                              headers={**auth(key), "content-type": "application/json", **(headers or {})})
    r.raise_for_status()
    return list(r.json()["results"])
