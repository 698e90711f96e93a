"""A decision as stored and announced, and the lifecycle event it becomes (pure).

The decision row is the audit entry and the outbox at once: its `event` column holds
the `model.state.changed` / `model.anomaly.detected` event built here, whose
`event_id` is the decision id (consumers dedupe by it) and whose `seq` is the
tenant's decision sequence. Governance events belong to no conversation; the envelope
still needs a session id, so it is `gov:{intent}` (or a hash of an intent that is not
id-safe), keeping one intent's decisions in order on one partition.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lifeline_events import Event
from lifeline_governance.evaluation import Scalar
from lifeline_governance.samples import GLOBAL_INTENT

_SAFE = re.compile(r"^[A-Za-z0-9._@-]{1,120}$")


def session_for(intent: str) -> str:
    """The envelope's session id for an intent's governance events."""
    if intent == GLOBAL_INTENT:
        return "gov"
    if _SAFE.match(intent):
        return f"gov:{intent}"
    # `::` cannot start a safe intent's id, and the envelope's id pattern admits it (`~` it did not)
    return "gov::" + hashlib.sha256(intent.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DecisionRecord:
    """One row of `governance.decisions` (seq is assigned when it is written)."""

    decision_id: uuid.UUID
    kind: str
    intent: str
    model_id: str | None
    from_state: str | None
    to_state: str | None
    rule: str
    reason: str
    inputs: dict[str, Scalar]
    settings_hash: str
    tick: datetime | None = None
    actor: str | None = None
    effective_score: float | None = None
    anomaly: dict[str, Any] | None = None
    idempotency_key: str | None = None
    seq: int = 0
    decided_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def changes_state(self) -> bool:
        return self.model_id is not None and self.to_state is not None and self.from_state != self.to_state


def event_for(tenant: str, record: DecisionRecord) -> Event | None:
    """The lifecycle event announcing `record`, or None (freeze/configure are audit-only)."""
    if record.model_id is None or record.decided_at is None:
        return None
    intent = None if record.intent == GLOBAL_INTENT else record.intent
    if record.kind == "anomaly" and record.anomaly is not None:
        event_type, payload = (
            "model.anomaly.detected",
            {"model_id": record.model_id, "intent": intent, **record.anomaly},
        )
    elif record.changes_state:
        event_type = "model.state.changed"
        inputs = {k: (v[:500] if isinstance(v, str) else v) for k, v in record.inputs.items()}
        payload = {
            "model_id": record.model_id,
            "intent": intent,
            "from_state": record.from_state,
            "to_state": record.to_state,
            "reason": record.reason[:500],
            "effective_score": record.effective_score,
            "inputs": inputs,
        }
    else:
        return None
    return Event.model_validate(
        {
            "event_id": record.decision_id,
            "event_type": event_type,
            "tenant_id": tenant,
            "session_id": session_for(record.intent),
            "seq": max(1, record.seq),
            "occurred_at": record.tick or record.decided_at,
            "recorded_at": record.decided_at,
            "payload": payload,
        }
    )
