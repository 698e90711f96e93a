"""`GET /v1/sessions/{id}/context?redact=true`: the window through the platform's one
redaction library, counted per kind in replay's metrics (issue 11)."""

from __future__ import annotations

import re
import uuid

from lifeline_testing.appends import append
from lifeline_testing.processes import auth

from .helpers import open_ws, recv


def _emails(metrics: str) -> float:
    found = re.search(r'^lifeline_replay_redactions_total\{kind="email"\} ([0-9.e+]+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


SECRETS = "mail ana@example.org or call +44 20 7946 0958, key sk-abcdefghijklmnop0123"


async def test_a_redacted_context_hides_what_export_and_trace_store_hide(stack, http) -> None:
    """With redact=true every email, phone and key in turns and facts is a placeholder and
    counted per kind; without it the window is as before."""
    session = f"red-{uuid.uuid4().hex[:8]}"
    last = (await append(stack.ingest.url, session, [
        {"event_type": "turn.recorded", "turn_id": 1, "payload": {"role": "user", "text": SECRETS}},
        {"event_type": "turn.recorded", "turn_id": 2, "payload": {
            "role": "assistant", "text": "Noted.",
            "acts": [{"op": "confirm_fact", "key": "contact", "value": "ana@example.org"}]}},
    ]))[-1]["seq"]
    url = f"{stack.replay.url}/v1/sessions/{session}/context"
    metrics_url = f"{stack.replay.url}/metrics"
    before = _emails((await http.get(metrics_url)).text)
    plain = await http.get(url, params={"min_seq": last}, headers=auth())
    redacted = await http.get(url, params={"min_seq": last, "redact": "true"}, headers=auth())
    after = _emails((await http.get(metrics_url)).text)
    assert plain.status_code == redacted.status_code == 200, redacted.text
    assert "ana@example.org" in plain.text and "redactions" not in plain.json()
    body = redacted.json()
    for secret in ("ana@example.org", "7946 0958", "sk-abcdefghijklmnop0123"):
        assert secret not in redacted.text
    assert "[redacted:email]" in redacted.text and "[redacted:phone]" in redacted.text
    assert body["redactions"] == {"api_key": 1, "email": 2, "phone": 1}
    assert body["session_id"] == session and body["seq"] == last
    assert after - before == 2


async def test_a_redacted_websocket_hides_them_in_the_sync_and_in_live_events(stack) -> None:
    """`/ws?redact=true`: RECOVERY_SYNC and each live event carry placeholders, not the secrets;
    the plain socket still carries them."""
    session = f"redws-{uuid.uuid4().hex[:8]}"
    await append(stack.ingest.url, session, [
        {"event_type": "turn.recorded", "turn_id": 1, "payload": {
            "role": "assistant", "text": "Noted.",
            "acts": [{"op": "confirm_fact", "key": "contact", "value": "ana@example.org"}]}}])
    async with open_ws(stack.replay.url, session, "redact=true") as redacted, \
            open_ws(stack.replay.url, session) as plain:
        sync, plain_sync = await recv(redacted), await recv(plain)
        assert sync["type"] == "RECOVERY_SYNC" and sync["session_id"] == session
        assert "ana@example.org" in str(plain_sync) and "ana@example.org" not in str(sync)
        assert "[redacted:email]" in str(sync)
        await append(stack.ingest.url, session, [
            {"event_type": "turn.recorded", "turn_id": 2, "payload": {"role": "user", "text": SECRETS}}])
        live = await recv(redacted)
    assert live["type"] == "EVENT" and live["seq"] == 2 and live["event"]["session_id"] == session
    assert live["event"]["payload"]["text"] == (
        "mail [redacted:email] or call [redacted:phone], key [redacted:api_key]")
