"""ingest's HTTP API as its peers use it: the log, the WAL, appends.

Reads (the log for gap healing, replay's fallback and snapshot's export; the WAL)
use the service key, whose admin scope may name the tenant it reads for. Appends
(snapshot's restore and import) forward the caller's own Authorization header,
because ingest takes the tenant from the key. A 401/403 on the service key is a
configuration fault, not bad data: it is raised as `PeerUnavailableError`, so a
consumer retries (and readiness shows it) instead of dead-lettering what it needed.
"""

from __future__ import annotations

from typing import Any

import orjson

from lifeline_clients._http import PeerHttp, PeerResponse
from lifeline_clients.errors import PeerRefusedError, PeerUnavailableError
from lifeline_events import Event


class IngestClient:
    """A small async client for ingest; one per process, closed with `aclose()`."""

    def __init__(self, base_url: str, service_key: str, *, timeout: float = 5.0) -> None:
        self._http = PeerHttp("ingest", base_url, timeout=timeout)
        self._service = {"Authorization": f"Bearer {service_key}"} if service_key else {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ping(self) -> bool:
        return await self._http.ping()

    async def _read(self, path: str, tenant: str, what: str, **params: Any) -> PeerResponse | None:
        """GET with the service key for `tenant`; None when ingest has no such session."""
        r = await self._http.request("GET", path, what, params={**params, "tenant_id": tenant},
                                     headers=self._service)
        if r.status_code == 404:
            return None
        if r.status_code >= 500:
            raise PeerUnavailableError(f"ingest answered {r.status_code} ({what})")
        if r.status_code in (401, 403):
            raise PeerUnavailableError(f"ingest rejected the service key ({r.status_code}, {what})")
        if r.status_code >= 400:
            raise PeerRefusedError.from_response(r, what)
        return r

    async def events(self, tenant: str, session: str, *, after_seq: int = 0,
                     until_seq: int | None = None, page: int = 1000) -> list[Event]:
        """Every event of a session with after_seq < seq <= until_seq, in seq order."""
        out: list[Event] = []
        cursor = after_seq
        while until_seq is None or cursor < until_seq:
            limit = page if until_seq is None else max(1, min(page, until_seq - cursor))
            r = await self._read(f"/v1/sessions/{session}/events", tenant, "read events",
                                 after_seq=cursor, limit=limit)
            if r is None:
                return out
            batch = [Event.from_json(e) for e in orjson.loads(r.content)["events"]]
            out.extend(batch)
            if len(batch) < limit:
                break
            cursor = batch[-1].seq
        return out

    async def events_page(self, tenant: str, session: str, after_seq: int,
                          limit: int = 1000) -> list[dict[str, Any]]:
        """Raw event dicts (as stored) after `after_seq`; [] for an unknown session."""
        r = await self._read(f"/v1/sessions/{session}/events", tenant, "read events",
                             after_seq=after_seq, limit=limit)
        return [] if r is None else orjson.loads(r.content)["events"]

    async def last_seq(self, tenant: str, session: str) -> int | None:
        """The session's last seq in the log, or None if ingest does not know it."""
        r = await self._read(f"/v1/sessions/{session}", tenant, "read session")
        return None if r is None else int(orjson.loads(r.content)["last_seq"])

    async def wal_page(self, tenant: str, session: str, after_seq: int,
                       limit: int = 1000) -> dict[str, Any] | None:
        r = await self._read(f"/v1/sessions/{session}/wal", tenant, "read WAL",
                             after_seq=after_seq, limit=limit)
        return None if r is None else orjson.loads(r.content)

    async def check_key(self) -> tuple[bool, str]:
        """Is ingest up, and does it accept our service key? (for readiness)"""
        if not self._service:
            return False, "LIFELINE_SERVICE_API_KEY is not set: cannot read ingest's log"
        try:
            r = await self._http.request("GET", "/v1/sessions/--readiness-probe--", "readiness probe",
                                         headers=self._service)
        except PeerUnavailableError as exc:
            return False, str(exc)
        if r.status_code in (401, 403):
            return False, f"ingest refuses the service key ({r.status_code})"
        return r.status_code in (200, 404), f"ingest answered {r.status_code}"

    async def repair(self, tenant: str, session: str, from_seq: int) -> dict[str, Any]:
        """Ask ingest to re-publish a session's events from `from_seq` (service key)."""
        body = {"dry_run": False, "tenant_id": tenant, "session_id": session, "from_seq": from_seq}
        r = await self._http.request("POST", "/v1/admin/wal/repair", "WAL repair", json=body,
                                     headers=self._service)
        if r.status_code >= 400:
            raise PeerRefusedError.from_response(r, "ingest WAL repair")
        return dict(r.json())

    async def append(self, session: str, body: dict[str, Any], authorization: str) -> list[dict[str, Any]]:
        """Append as the caller (their key decides the tenant); ingest's results."""
        r = await self._http.request("POST", f"/v1/sessions/{session}/events", "append",
                                     content=orjson.dumps(body),
                                     headers={"Authorization": authorization,
                                              "content-type": "application/json"})
        if r.status_code >= 500:
            raise PeerUnavailableError(f"ingest answered {r.status_code} (append)")
        if r.status_code >= 400:
            raise PeerRefusedError.from_response(r, "ingest refused the events")
        return list(r.json()["results"])
