"""The optional memory service: a person's long-term bias for the next session.

Unset URL, a timeout or any error means "no bias": context and cold recovery work
without it.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from lifeline_replay.bias import BiasItem, parse_bias

log = structlog.get_logger("lifeline.replay.memory")


class MemoryClient:
    """Reads `GET /v1/persons/{id}/bias` with the service key, for the given tenant."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 0.3) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout,
                                         headers={"Authorization": f"Bearer {api_key}"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def raw_bias(self, tenant: str, person_id: str) -> Any | None:
        try:
            r = await self._client.get(f"/v1/persons/{person_id}/bias", params={"tenant_id": tenant})
        except httpx.HTTPError as exc:
            log.info("memory.unreachable", error=repr(exc))
            return None
        if r.status_code != 200:
            return None
        try:
            return r.json()
        except ValueError:
            return None

    async def bias(self, tenant: str, person_id: str | None) -> list[BiasItem]:
        if not person_id:
            return []
        return parse_bias(await self.raw_bias(tenant, person_id))
