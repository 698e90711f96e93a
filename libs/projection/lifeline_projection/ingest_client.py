"""Reading ingest's log over HTTP: how projections heal gaps and how replay falls back.

Uses a service key with the admin scope, which may name the tenant it reads for.
Transport failures are raised as TransientError, so a consumer retries rather than
dead-letters.
"""

from __future__ import annotations

import httpx

from lifeline_common.errors import TransientError
from lifeline_events import Event


class IngestUnavailableError(TransientError):
    """ingest did not answer; the log may be fine, we just cannot read it now."""


class IngestClient:
    """A small async client for ingest's read API."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout,
                                         headers={"Authorization": f"Bearer {api_key}"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def events(self, tenant: str, session: str, *, after_seq: int = 0,
                     until_seq: int | None = None, page: int = 1000) -> list[Event]:
        """Every event of a session with after_seq < seq <= until_seq, in seq order."""
        out: list[Event] = []
        cursor = after_seq
        while until_seq is None or cursor < until_seq:
            limit = page if until_seq is None else max(1, min(page, until_seq - cursor))
            try:
                r = await self._client.get(f"/v1/sessions/{session}/events",
                                           params={"after_seq": cursor, "limit": limit, "tenant_id": tenant})
            except httpx.HTTPError as exc:
                raise IngestUnavailableError(f"ingest unreachable: {exc!r}") from exc
            if r.status_code == 404:
                return out
            if r.status_code >= 500:
                raise IngestUnavailableError(f"ingest answered {r.status_code}")
            if r.status_code in (401, 403):
                # a configuration fault, not bad data: retry (and show in readiness) rather
                # than dead-letter the events that needed healing
                raise IngestUnavailableError(f"ingest rejected the service key ({r.status_code})")
            r.raise_for_status()
            batch = [Event.from_json(e) for e in r.json()["events"]]
            out.extend(batch)
            if len(batch) < limit:
                break
            cursor = batch[-1].seq
        return out

    async def ping(self) -> bool:
        try:
            return (await self._client.get("/health")).status_code == 200
        except httpx.HTTPError:
            return False
