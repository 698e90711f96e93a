"""The HTTP edge: bad input answers with the right status and names what is wrong; ETags,
idempotency keys and tenant isolation hold."""

from __future__ import annotations

from .helpers import client, register, start_stack, transition


async def test_bad_input_idempotency_etags_and_tenants(fresh_database, redis_url, procs) -> None:
    """404 unknown, 409 illegal (naming the state), 412 stale If-Match, 422 bad values, 403 scopes."""
    _, gov = start_stack(procs, fresh_database, redis_url)
    async with client(gov) as c:
        assert (await c.get("/v1/models/nope")).status_code == 404
        assert (await c.get("/v1/routing/pricing")).status_code == 404
        created = await register(c, "gpt-a", "pricing", "billing")
        assert {p["state"] for p in created["placements"]} == {"SHADOW"}
        etag = (await c.get("/v1/models/gpt-a")).headers["etag"]
        ok = await c.put("/v1/models/gpt-a", json={"provider": "x"}, headers={"If-Match": etag})
        assert ok.status_code == 200 and ok.headers["etag"] != etag
        stale = await c.put("/v1/models/gpt-a", json={"provider": "y"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        state_via_put = await c.put("/v1/models/gpt-a", json={"intents": {"pricing": {"state": "PRIMARY"}}})
        assert state_via_put.status_code == 409 and "transition" in state_via_put.json()["detail"]

        illegal = await transition(c, "gpt-a", "pricing", "PRIMARY")
        assert illegal.status_code == 409 and illegal.json()["state"] == "SHADOW"
        assert (await transition(c, "gpt-a", "pricing", "BOSS")).status_code == 422
        no_reason = await c.post(
            "/v1/models/gpt-a/transition", json={"intent": "pricing", "to_state": "CANDIDATE"}
        )
        assert no_reason.status_code == 422
        assert (await transition(c, "gpt-a", "nowhere", "CANDIDATE")).status_code == 404
        mismatch = await transition(c, "gpt-a", "pricing", "CANDIDATE", expected_state="ACTIVE")
        assert mismatch.status_code == 409 and mismatch.json()["current_state"] == "SHADOW"
        guarded = await transition(c, "gpt-a", "pricing", "CANDIDATE", respect_guards=True)
        assert guarded.status_code == 409 and guarded.json()["guard"] == "min_calls"

        first = await c.post(
            "/v1/models/gpt-a/transition",
            headers={"Idempotency-Key": "ops-1"},
            json={"intent": "pricing", "to_state": "CANDIDATE", "reason": "ops", "actor": "alice"},
        )
        again = await c.post(
            "/v1/models/gpt-a/transition",
            headers={"Idempotency-Key": "ops-1"},
            json={"intent": "pricing", "to_state": "CANDIDATE", "reason": "ops", "actor": "alice"},
        )
        assert first.status_code == again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["decision"]["decision_id"] == first.json()["decision"]["decision_id"]
        assert first.json()["decision"]["actor"] == "alice"
        one = await c.get(f"/v1/audit/{first.json()['decision']['decision_id']}")
        assert one.status_code == 200 and one.json()["reason"] == "ops" and one.json()["kind"] == "override"
        assert (await c.get("/v1/audit/not-a-uuid")).status_code == 404

        assert (await transition(c, "gpt-a", "pricing", "PRIMARY")).status_code == 200
        route = await c.get("/v1/routing/pricing")
        assert route.status_code == 200
        cached = await c.get("/v1/routing/pricing", headers={"If-None-Match": route.headers["etag"]})
        assert cached.status_code == 304
        assert (await c.get("/v1/routing/pricing", params={"at": "yesterday"})).status_code == 422
        assert (await c.get("/v1/routing/pricing", params={"at": "2999-01-01T00:00:00Z"})).status_code == 422
        assert (await c.get("/v1/routing/" + "x" * 129)).status_code == 422
        demote = await transition(c, "gpt-a", "pricing", "SHADOW")
        assert demote.status_code == 409

        seq = route.json()["as_of_seq"]
        fresh = await c.get("/v1/routing/pricing", params={"min_seq": seq})
        assert fresh.status_code == 200 and fresh.json()["as_of_seq"] >= seq

    async with client(gov, key="test-other-tenant") as other:
        assert (await other.get("/v1/models")).json()["models"] == []
        assert (await other.get("/v1/routing/pricing")).status_code == 404
        assert (await other.get("/v1/audit")).json()["decisions"] == []
        assert (await other.get("/v1/models", params={"tenant_id": "default"})).status_code == 403
        assert (await other.put("/v1/models/x", json={})).status_code == 403
    async with client(gov, key="test-read-only") as reader:
        assert (await reader.get("/v1/routing/pricing")).status_code == 200
        assert (await reader.post("/v1/admin/lifecycle/run", json={})).status_code == 403
    async with client(gov) as admin:
        history = (await admin.get("/v1/models/gpt-a/history", params={"intent": "pricing"})).json()
        assert [i["state"] for i in history["intervals"]] == ["SHADOW", "CANDIDATE", "PRIMARY"]
