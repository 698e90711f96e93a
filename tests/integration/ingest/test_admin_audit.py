"""Admin actions are recorded (who, what, when, outcome) and read back per tenant."""

from __future__ import annotations

import httpx

from lifeline_testing.builders import turn
from lifeline_testing.processes import TENANT_ADMIN_KEY, TEST_API_KEY, auth


async def test_admin_actions_are_audited_and_read_per_tenant(fresh_database, redis_url, start_ingest) -> None:
    """A repair by the tenant admin and one by the operator are recorded with their status;
    reads and appends are not; the tenant admin reads its own tenant's log only."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        await c.post("/v1/sessions/s-a/events", json=turn(1), headers=auth())
        await c.get("/v1/sessions/s-a/events", headers=auth())
        mine = await c.post("/v1/admin/wal/repair", json={"session_id": "s-a", "dry_run": False},
                            headers=auth(TENANT_ADMIN_KEY))
        assert mine.status_code == 200
        missing = await c.post("/v1/admin/wal/repair", json={"session_id": "nope", "dry_run": False},
                               headers=auth(TEST_API_KEY))
        assert missing.status_code == 404
        audit = await c.get("/v1/admin/audit", headers=auth(TENANT_ADMIN_KEY))
        assert audit.status_code == 200
        entries = audit.json()["entries"]
        assert [(e["method"], e["path"], e["status"]) for e in entries] == [
            ("POST", "/v1/admin/wal/repair", 404), ("POST", "/v1/admin/wal/repair", 200)]
        assert entries[0]["key_fingerprint"] != entries[1]["key_fingerprint"]
        assert "operator" in entries[0]["scopes"] and "operator" not in entries[1]["scopes"]
        other = await c.get("/v1/admin/audit?tenant_id=other", headers=auth(TENANT_ADMIN_KEY))
        assert other.status_code == 403
        assert (await c.get("/v1/admin/audit", headers=auth("test-read-only"))).status_code == 403
