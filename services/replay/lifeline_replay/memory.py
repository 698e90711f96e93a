"""memory's bias as replay's context window reads it: the HTTP is lifeline_clients'.

Unset URL, a timeout or any error means "no bias": context and cold recovery work
without it (the client answers None, `parse_bias` reads None as no items).
"""

from __future__ import annotations

from typing import Any

from lifeline_clients import MemoryClient as MemoryHttp
from lifeline_replay.bias import BiasItem, parse_bias


class MemoryClient:
    """Reads `GET /v1/persons/{id}/bias` with the service key, for the given tenant."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 0.3) -> None:
        self._http = MemoryHttp(base_url, api_key, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def raw_bias(self, tenant: str, person_id: str) -> Any | None:
        """memory's answer as it came (cold recovery hands it on as the profile)."""
        return await self._http.bias(tenant, person_id)

    async def bias(self, tenant: str, person_id: str | None) -> list[BiasItem]:
        if not person_id:
            return []
        return parse_bias(await self.raw_bias(tenant, person_id))
