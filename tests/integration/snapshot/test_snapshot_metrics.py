"""snapshot counts its operations by outcome for the alerts (deploy/prometheus/alerts.yml)."""

from __future__ import annotations

import re
import uuid

import httpx

from lifeline_testing.appends import append
from lifeline_testing.builders import turn
from lifeline_testing.processes import auth
from lifeline_testing.snapshot_stack import SnapshotStack, projected_state
from lifeline_testing.waiting import eventually


def _count(metrics: str, operation: str, outcome: str) -> float:
    pattern = (r'^lifeline_snapshot_operations_total\{operation="' + operation + r'",outcome="'
               + outcome + r'"\} ([0-9.e+]+)$')
    found = re.search(pattern, metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_recaps_exports_and_reconciles_are_counted_by_outcome(stack: SnapshotStack) -> None:
    """Each call counts once, as ok or error; exports also record their size."""
    session = f"m-{uuid.uuid4().hex[:8]}"
    await append(stack.ingest.url, session, [turn(i) for i in range(1, 4)])
    await eventually(lambda: projected_state(stack.database_url, session), what="projected")
    async with httpx.AsyncClient(base_url=stack.snapshot.url, headers=auth(), timeout=30) as c:
        before = (await c.get("/metrics")).text
        assert (await c.get(f"/v1/sessions/{session}/recap")).status_code == 200
        assert (await c.get("/v1/sessions/no-such-session/recap")).status_code == 404
        assert (await c.get(f"/v1/sessions/{session}/export")).status_code == 200
        assert (await c.post(f"/v1/sessions/{session}/wal/reconcile", json={})).status_code == 200
        after = (await c.get("/metrics")).text
    for operation, outcome in (("recap", "ok"), ("recap", "error"), ("export", "ok"), ("reconcile", "ok")):
        grew = _count(after, operation, outcome) - _count(before, operation, outcome)
        assert grew == 1, (operation, outcome)
    assert "lifeline_snapshot_export_bytes_count" in after
