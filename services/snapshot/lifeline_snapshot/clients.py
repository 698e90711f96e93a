"""HTTP adapters to the services snapshot talks to: ingest, replay, memory.

Reads of ingest's log and WAL use the service key (admin; it names the tenant);
writes (restore, import) forward the caller's own Authorization header, because
ingest takes the tenant from the key. Transport failures become
`DependencyUnavailableError` (a TransientError: 503 at the API); an answer ingest
refused is re-raised as a `ProblemError` carrying ingest's status and detail.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from lifeline_common.errors import TransientError
from lifeline_servicekit import ProblemError


class DependencyUnavailableError(TransientError):
    """A service we depend on did not answer."""


def _problem_from(response: httpx.Response, what: str) -> ProblemError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") or response.text[:500]
    extra = {k: v for k, v in body.items() if k in ("errors", "field")}
    return ProblemError(response.status_code, body.get("title") or f"{what} failed", f"{what}: {detail}",
                        **extra)


class IngestApi:
    """ingest's log, WAL and append endpoints."""

    def __init__(self, base_url: str, service_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._service = {"Authorization": f"Bearer {service_key}"} if service_key else {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(f"ingest unreachable ({what}): {exc!r}") from exc

    async def _read(self, path: str, tenant: str, what: str, **params: Any) -> dict[str, Any] | None:
        """GET with the service key for `tenant`; None when ingest has no such session."""
        r = await self._call("GET", path, what, params={**params, "tenant_id": tenant}, headers=self._service)
        if r.status_code == 404:
            return None
        if r.status_code >= 500:
            raise DependencyUnavailableError(f"ingest answered {r.status_code} ({what})")
        if r.status_code >= 400:
            raise _problem_from(r, what)
        return orjson.loads(r.content)

    async def last_seq(self, tenant: str, session: str) -> int | None:
        body = await self._read(f"/v1/sessions/{session}", tenant, "read session")
        return None if body is None else int(body["last_seq"])

    async def events_page(self, tenant: str, session: str, after_seq: int,
                          limit: int = 1000) -> list[dict[str, Any]]:
        """Raw event dicts (as stored) after `after_seq`; [] for an unknown session."""
        body = await self._read(f"/v1/sessions/{session}/events", tenant, "read events",
                                after_seq=after_seq, limit=limit)
        return [] if body is None else body["events"]

    async def wal_page(self, tenant: str, session: str, after_seq: int,
                       limit: int = 1000) -> dict[str, Any] | None:
        return await self._read(f"/v1/sessions/{session}/wal", tenant, "read WAL",
                                after_seq=after_seq, limit=limit)

    async def check_key(self) -> tuple[bool, str]:
        """Is ingest up, and does it accept our service key? (for readiness)"""
        if not self._service:
            return False, "LIFELINE_SERVICE_API_KEY is not set: cannot read ingest's log"
        try:
            r = await self._http.get("/v1/sessions/--readiness-probe--", headers=self._service)
        except httpx.HTTPError as exc:
            return False, f"ingest unreachable: {exc!r}"
        if r.status_code in (401, 403):
            return False, f"ingest refuses the service key ({r.status_code})"
        return r.status_code in (200, 404), f"ingest answered {r.status_code}"

    async def repair(self, tenant: str, session: str, from_seq: int) -> dict[str, Any]:
        body = {"dry_run": False, "tenant_id": tenant, "session_id": session, "from_seq": from_seq}
        r = await self._call("POST", "/v1/admin/wal/repair", "WAL repair", json=body, headers=self._service)
        if r.status_code >= 400:
            raise _problem_from(r, "ingest WAL repair")
        return r.json()

    async def append(self, session: str, body: dict[str, Any], authorization: str) -> list[dict[str, Any]]:
        """Append as the caller (their key decides the tenant); ingest's results."""
        r = await self._call("POST", f"/v1/sessions/{session}/events", "append",
                             content=orjson.dumps(body),
                             headers={"Authorization": authorization, "content-type": "application/json"})
        if r.status_code >= 500:
            raise DependencyUnavailableError(f"ingest answered {r.status_code} (append)")
        if r.status_code >= 400:
            raise _problem_from(r, "ingest refused the events")
        return r.json()["results"]


class PeerApi:
    """Best-effort reads from replay (checkpoints) and memory (profiles), as the caller."""

    def __init__(self, replay_url: str, memory_url: str, *, timeout: float = 3.0) -> None:
        self._http = httpx.AsyncClient(timeout=timeout)
        self._replay = replay_url.rstrip("/")
        self._memory = memory_url.rstrip("/")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def replay_checkpoint(self, session: str, authorization: str) -> tuple[str, int | None]:
        """(status, last_seq): ok / not_found / unreachable / error / not_configured."""
        if not self._replay:
            return "not_configured", None
        try:
            r = await self._http.get(f"{self._replay}/v1/sessions/{session}/checkpoint",
                                     headers={"Authorization": authorization})
        except httpx.HTTPError:
            return "unreachable", None
        if r.status_code == 404:
            return "not_found", None
        try:
            return ("ok", int(r.json()["last_seq"])) if r.status_code == 200 else ("error", None)
        except (ValueError, KeyError, TypeError):
            return "error", None

    async def profile(self, person_id: str | None, authorization: str) -> dict[str, Any] | None:
        """The person's long-term profile, or None if memory is unset, away or has none."""
        if not self._memory or not person_id:
            return None
        try:
            r = await self._http.get(f"{self._memory}/v1/persons/{person_id}/profile",
                                     headers={"Authorization": authorization})
            return r.json() if r.status_code == 200 and isinstance(r.json(), dict) else None
        except (httpx.HTTPError, ValueError):
            return None
