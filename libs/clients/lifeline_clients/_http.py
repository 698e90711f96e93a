"""The transport shared by the peer clients: one aiohttp session, errors mapped at the edge.

aiohttp, not httpx: a peer call sits on request paths (replay's `GET state` asks ingest
for the log's head on every read), and httpx spent 640-700 CPU µs per request against
aiohttp's 140-175 on this machine class (a trivial local server, 3,000 GETs each; issue 10).
Peer calls ask for uncompressed answers: on a private network compressing a WAL page in
the peer and inflating it here costs CPU on both sides and saves nothing that matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from lifeline_clients.errors import PeerUnavailableError

_IDENTITY = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class PeerResponse:
    """A peer's answer, read whole: the status and the body's bytes."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        """The body as JSON; raises ValueError (orjson's decode error) when it is not."""
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class PeerHttp:
    """An HTTP client for one peer; transport failures become `PeerUnavailableError`.

    The session is opened on first use, inside the running event loop that aiohttp
    binds it to (clients are built before a service's loop serves requests).
    """

    def __init__(self, peer: str, base_url: str, *, timeout: float) -> None:
        self.peer = peer
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=_IDENTITY,
                                                  json_serialize=lambda v: orjson.dumps(v).decode())
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, what: str, *,
                      params: Mapping[str, str | int] | None = None,
                      headers: Mapping[str, str] | None = None,
                      json: Any = None, content: bytes | None = None) -> PeerResponse:
        """`path` on the peer; raises `PeerUnavailableError` when no answer comes."""
        query = {k: str(v) for k, v in (params or {}).items()}
        try:
            async with self._client().request(method, self.base_url + path, params=query,
                                              headers=headers, json=json, data=content) as r:
                return PeerResponse(r.status, await r.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PeerUnavailableError(f"{self.peer} unreachable ({what}): {exc!r}") from exc

    async def ping(self) -> bool:
        """Does the peer's `/health` answer 200?"""
        try:
            return (await self.request("GET", "/health", "health")).status_code == 200
        except PeerUnavailableError:
            return False
