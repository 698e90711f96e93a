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


async def test_an_operator_acting_for_a_tenant_named_in_the_body_is_audited_under_it(
        fresh_database, redis_url, start_ingest) -> None:
    """An operator's repair naming `"tenant_id": "default"` in its body lands in that tenant's
    audit log (its admin sees it), as `?tenant_id=` does; a body without one keeps the key's."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url) as c:
        await c.post("/v1/sessions/s-b/events", json=turn(1), headers=auth())
        repair = await c.post("/v1/admin/wal/repair", headers=auth(TEST_API_KEY),
                              json={"tenant_id": "default", "session_id": "s-b", "dry_run": True})
        assert repair.status_code == 200, repair.text
        other = await c.post("/v1/admin/wal/repair", headers=auth(TEST_API_KEY),
                             json={"tenant_id": "elsewhere", "dry_run": True})
        assert other.status_code == 200, other.text
        mine = (await c.get("/v1/admin/audit", headers=auth(TENANT_ADMIN_KEY))).json()["entries"]
        theirs = (await c.get("/v1/admin/audit", params={"tenant_id": "elsewhere"},
                              headers=auth(TEST_API_KEY))).json()["entries"]
    assert [(e["path"], e["status"]) for e in mine] == [("/v1/admin/wal/repair", 200)]
    assert [(e["path"], e["status"]) for e in theirs] == [("/v1/admin/wal/repair", 200)]
