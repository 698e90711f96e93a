"""The transport shared by the peer clients: one httpx client, errors mapped at the edge."""

from __future__ import annotations

from typing import Any

import httpx

from lifeline_clients.errors import PeerUnavailableError


class PeerHttp:
    """An httpx client for one peer; transport failures become `PeerUnavailableError`."""

    def __init__(self, peer: str, base_url: str, *, timeout: float) -> None:
        self.peer = peer
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise PeerUnavailableError(f"{self.peer} unreachable ({what}): {exc!r}") from exc

    async def ping(self) -> bool:
        """Does the peer's `/health` answer 200?"""
        try:
            return (await self._http.get("/health")).status_code == 200
        except httpx.HTTPError:
            return False
