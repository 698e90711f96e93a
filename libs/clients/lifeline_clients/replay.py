"""replay's HTTP API as its peers use it: how far replay has applied a session.

Best effort by design: the WAL view reports replay's state beside ingest's, so an
unset URL or an unreachable replay is a status in the answer, never an error.
"""

from __future__ import annotations

from lifeline_clients._http import PeerHttp
from lifeline_clients.errors import PeerUnavailableError


class ReplayClient:
    """Reads replay's per-session checkpoint as the caller."""

    def __init__(self, base_url: str, *, timeout: float = 3.0) -> None:
        self._http = PeerHttp("replay", base_url, timeout=timeout) if base_url else None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def checkpoint(self, session: str, authorization: str) -> tuple[str, int | None]:
        """(status, last_seq): ok / not_found / unreachable / error / not_configured."""
        if self._http is None:
            return "not_configured", None
        try:
            r = await self._http.request("GET", f"/v1/sessions/{session}/checkpoint", "read checkpoint",
                                         headers={"Authorization": authorization})
        except PeerUnavailableError:
            return "unreachable", None
        if r.status_code == 404:
            return "not_found", None
        try:
            return ("ok", int(r.json()["last_seq"])) if r.status_code == 200 else ("error", None)
        except (ValueError, KeyError, TypeError):
            return "error", None

    # the name snapshot's WAL view (api_wal.py) calls it by
    replay_checkpoint = checkpoint
