"""memory's HTTP API as its peers use it: a person's bias and long-term profile.

Both reads are optional for their callers (context, cold recovery and export work
without them), so an unset URL, a timeout or any refusal answers None rather than
raising: `bias` with the service key for a named tenant (replay), `profile` as the
caller (snapshot's export).
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from lifeline_clients._http import PeerHttp
from lifeline_clients.errors import PeerUnavailableError

log = structlog.get_logger("lifeline.clients.memory")


class MemoryClient:
    """Best-effort reads of memory's bias and profile; None means "nothing to add"."""

    def __init__(self, base_url: str, service_key: str = "", *, timeout: float = 3.0) -> None:
        self._http = PeerHttp("memory", base_url, timeout=timeout) if base_url else None
        self._service = {"Authorization": f"Bearer {service_key}"} if service_key else {}

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _get_json(self, path: str, what: str, **kwargs: Any) -> Any | None:
        if self._http is None:
            return None
        try:
            r = await self._http.request("GET", path, what, **kwargs)
        except PeerUnavailableError as exc:
            log.info("memory.unreachable", error=str(exc))
            return None
        if r.status_code != 200:
            return None
        try:
            return orjson.loads(r.content)
        except orjson.JSONDecodeError:
            return None

    async def bias(self, tenant: str, person_id: str) -> Any | None:
        """memory's raw answer to `GET /v1/persons/{id}/bias` for `tenant` (service key)."""
        return await self._get_json(f"/v1/persons/{person_id}/bias", "read bias",
                                    params={"tenant_id": tenant}, headers=self._service)

    async def profile(self, person_id: str | None, authorization: str) -> dict[str, Any] | None:
        """The person's long-term profile as the caller sees it, or None."""
        if not person_id:
            return None
        body = await self._get_json(f"/v1/persons/{person_id}/profile", "read profile",
                                    headers={"Authorization": authorization})
        return body if isinstance(body, dict) else None
