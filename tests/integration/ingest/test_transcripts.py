"""Transcript import (issue 12 item 5) on a real ingest process, PostgreSQL and Redis."""

from __future__ import annotations

import json
from typing import Any

import httpx

from lifeline_testing.processes import TEST_KEYS, auth

SYSTEM = "You are a dental clinic's assistant."
TRANSCRIPTS: dict[str, dict[str, Any]] = {
    "openai": {"provider": "openai", "messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": [{"type": "text", "text": "Veneers?"},
                                     {"type": "image_url", "image_url": {"url": "https://x.test/t.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "price: 900"},
        {"role": "assistant", "content": "They cost 900."}]},
    "anthropic": {"provider": "anthropic", "system": SYSTEM, "person_id": "p-7", "messages": [
        {"role": "user", "content": "Veneers?"},
        {"role": "assistant", "content": [{"type": "text", "text": "They cost 900."},
                                          {"type": "tool_use", "id": "t1", "name": "book", "input": {}}]}]},
    "gemini": {"provider": "gemini", "system_instruction": {"parts": [{"text": SYSTEM}]}, "contents": [
        {"role": "user", "parts": [{"text": "Veneers?"}]},
        {"role": "model", "parts": [{"text": "They cost 900."}]}]},
}
EXPECTED = {
    "openai": [(1, "system", SYSTEM), (2, "user", "Veneers?"), (4, "tool", "price: 900"),
               (5, "assistant", "They cost 900.")],
    "anthropic": [(1, "system", SYSTEM), (2, "user", "Veneers?"), (3, "assistant", "They cost 900.")],
    "gemini": [(1, "system", SYSTEM), (2, "user", "Veneers?"), (3, "assistant", "They cost 900.")],
}


def _turns(log: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(e["turn_id"], e["payload"]["role"], e["payload"]["text"]) for e in log["events"]
            if e["event_type"] == "turn.recorded"]


async def test_each_providers_transcript_lands_as_turns_and_a_reimport_is_a_no_op(
        fresh_database, redis_url, start_ingest) -> None:
    """Each format lands as text turns with positional ids, lists what it dropped; a re-post is a no-op."""
    ingest = start_ingest(fresh_database, redis_url)
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        for provider, transcript in TRANSCRIPTS.items():
            url = f"/v1/sessions/tx-{provider}/transcripts"
            first = await c.post(url, json=transcript)
            assert first.status_code == 200, first.text
            body = first.json()
            assert [r["seq"] for r in body["results"]] == list(range(1, len(EXPECTED[provider]) + 1))
            assert [r["turn_id"] for r in body["results"]] == [t[0] for t in EXPECTED[provider]]
            assert not any(r["duplicate"] for r in body["results"])
            again = (await c.post(url, json=transcript)).json()
            assert [(r["seq"], r["duplicate"]) for r in again["results"]] == [
                (r["seq"], True) for r in body["results"]]
            assert [r["event_id"] for r in again["results"]] == [r["event_id"] for r in body["results"]]
            log = (await c.get(f"/v1/sessions/tx-{provider}/events")).json()
            assert _turns(log) == EXPECTED[provider] and log["last_seq"] == len(EXPECTED[provider])
        dropped = {d["field"] for d in (await c.post("/v1/sessions/tx-openai/transcripts",
                                                     json=TRANSCRIPTS["openai"])).json()["dropped"]}
        assert dropped == {"messages.1.content.1", "messages.2.tool_calls", "messages.2",
                           "messages.3.tool_call_id"}
        anthropic_log = (await c.get("/v1/sessions/tx-anthropic/events")).json()
        assert {e["person_id"] for e in anthropic_log["events"]} == {"p-7"}
        more = {"provider": "gemini", "first_turn_id": 4,
                "contents": [{"role": "user", "parts": [{"text": "Book me in."}]}]}
        added = (await c.post("/v1/sessions/tx-gemini/transcripts", json=more)).json()
        assert [(r["seq"], r["turn_id"], r["duplicate"]) for r in added["results"]] == [(4, 4, False)]
        assert added["next_turn_id"] == 5


async def test_bad_transcripts_are_422_naming_the_index_and_nothing_is_written(
        fresh_database, redis_url, start_ingest) -> None:
    """Wrong role, broken alternation, misplaced system, empty: problem+json with field and fix, no events."""
    ingest = start_ingest(fresh_database, redis_url)
    cases = [
        ({"provider": "gemini", "contents": [{"role": "user", "parts": [{"text": "a"}]},
                                             {"role": "assistant", "parts": [{"text": "b"}]}]},
         "contents.1.role", '"model"'),
        ({"provider": "anthropic", "messages": [{"role": "user", "content": "a"},
                                                {"role": "assistant", "content": "b"},
                                                {"role": "assistant", "content": "c"}]},
         "messages.2.role", "alternate"),
        ({"provider": "anthropic", "messages": [{"role": "system", "content": "s"},
                                                {"role": "user", "content": "a"}]},
         "messages.0.role", 'top-level "system"'),
        ({"provider": "openai", "system": "s", "messages": [{"role": "user", "content": "a"}]},
         "system", '"role": "system"'),
        ({"provider": "openai", "messages": []}, "messages", "messages"),
        ({"provider": "llama", "messages": [{"role": "user", "content": "a"}]}, "provider", "openai"),
    ]
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth()) as c:
        for body, field, fix in cases:
            r = await c.post("/v1/sessions/tx-bad/transcripts", json=body)
            assert r.status_code == 422, (field, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            named = {e["field"]: e for e in r.json()["errors"]}
            assert field in named and fix in named[field]["fix"], (field, r.text)
        big = await c.post("/v1/sessions/tx-bad/transcripts", json={
            "provider": "openai", "messages": [{"role": "user", "content": "x" * 70_000}]})
        assert big.status_code in (413, 422) and "messages.0" in big.text
        assert (await c.get("/v1/sessions/tx-bad")).status_code == 404
        assert (await c.get("/health")).status_code == 200


async def test_a_person_scoped_key_imports_only_for_its_persons(
        fresh_database, redis_url, start_ingest) -> None:
    """The append route's person check: another person's transcript is a 403 naming the event,
    one without a person cannot start a session, the key's own person imports."""
    keys = {**TEST_KEYS, "p7-key": {"tenant": "default", "scopes": ["ingest", "read"], "persons": ["p-7"]}}
    ingest = start_ingest(fresh_database, redis_url, api_keys=json.dumps(keys))
    body = {"provider": "openai", "messages": [{"role": "user", "content": "hello"}]}
    async with httpx.AsyncClient(base_url=ingest.url, headers=auth("p7-key")) as c:
        other = await c.post("/v1/sessions/t-p8/transcripts", json={**body, "person_id": "p-8"})
        nameless = await c.post("/v1/sessions/t-none/transcripts", json=body)
        mine = await c.post("/v1/sessions/t-p7/transcripts", json={**body, "person_id": "p-7"})
    assert other.status_code == 403 and other.json()["field"] == "events[0].person_id", other.text
    assert nameless.status_code == 403, nameless.text
    assert mine.status_code == 200, mine.text
