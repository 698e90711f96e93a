"""`PUT /v1/models/{id}`: a model's description and where it may serve, never its state.

Optimistic concurrency by version (`If-Match`); a new placement is a `register`
decision into SHADOW (announced as `model.state.changed` with `from_state: null`), a
changed pin, shadow rate or canary share a `configure` decision. Asking for a state
here is refused: states change through the transition endpoint only.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from lifeline_governance import decisions
from lifeline_governance.errors import PreconditionFailedError, TransitionRefusedError
from lifeline_governance.records import DecisionRecord
from lifeline_governance.rules import Rules

_KNOBS = ("pinned", "shadow_rate", "canary_traffic")


async def apply_registration(
    pool: asyncpg.Pool,
    rules: Rules,
    tenant: str,
    model_id: str,
    body: dict[str, Any],
    if_match: int | None,
    actor: str | None,
) -> int:
    """Create or update; returns the model's new version."""
    intents: dict[str, dict[str, Any]] = body.get("intents") or {}
    for intent, spec in intents.items():
        if "state" in spec:
            raise TransitionRefusedError(
                f"PUT never changes a state ('{intent}'): use POST /v1/models/{model_id}/transition",
                state=spec["state"],
            )
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            "SELECT version FROM governance.models WHERE tenant_id = $1 AND model_id = $2 FOR UPDATE",
            tenant,
            model_id,
        )
        if if_match is not None and (current is None or current["version"] != if_match):
            raise PreconditionFailedError(
                f"If-Match {if_match} is stale (current version: {current['version'] if current else 'none'})"
            )
        version = await conn.fetchval(
            "INSERT INTO governance.models (tenant_id, model_id, display_name, provider, metadata, "
            "registered) "
            "VALUES ($1, $2, $3, $4, $5::jsonb, true) ON CONFLICT (tenant_id, model_id) DO UPDATE SET "
            "display_name = EXCLUDED.display_name, provider = EXCLUDED.provider, "
            "metadata = EXCLUDED.metadata, "
            "registered = true, version = models.version + 1, updated_at = now() RETURNING version",
            tenant,
            model_id,
            body.get("display_name"),
            body.get("provider"),
            body.get("metadata") or {},
        )
        records = await _placements(conn, rules, tenant, model_id, intents, actor)
        await decisions.write(conn, tenant, records, datetime.now(UTC))
    return int(version)


async def _placements(
    conn: asyncpg.Connection,
    rules: Rules,
    tenant: str,
    model_id: str,
    intents: dict[str, dict[str, Any]],
    actor: str | None,
) -> list[DecisionRecord]:
    """Register new placements (written at once: the knobs need the row), set knobs; return
    the `configure` decisions still to write."""
    configured = []
    for intent in sorted(intents):
        spec = intents[intent]
        row = await conn.fetchrow(
            "SELECT state, pinned, shadow_rate, canary_traffic FROM governance.placements "
            "WHERE tenant_id = $1 AND intent = $2 AND model_id = $3",
            tenant,
            intent,
            model_id,
        )
        knobs = {k: spec[k] for k in _KNOBS if k in spec}
        if row is None:
            await decisions.write(
                conn,
                tenant,
                [
                    DecisionRecord(
                        uuid.uuid4(),
                        "register",
                        intent,
                        model_id,
                        None,
                        "SHADOW",
                        "register",
                        "registered by an admin",
                        {"rule": "register", **knobs},
                        rules.settings_hash,
                        actor=actor,
                    )
                ],
                datetime.now(UTC),
            )
        changed = {k: v for k, v in knobs.items() if row is None or row[k] != v}
        if changed:
            sets = ", ".join(f"{name} = ${i + 4}" for i, name in enumerate(changed))
            await conn.execute(
                f"UPDATE governance.placements SET {sets} WHERE tenant_id = $1 AND intent = $2 "
                "AND model_id = $3",
                tenant,
                intent,
                model_id,
                *changed.values(),
            )
        if row is not None and changed:
            configured.append(
                DecisionRecord(
                    uuid.uuid4(),
                    "configure",
                    intent,
                    model_id,
                    row["state"],
                    row["state"],
                    "configure",
                    "placement settings changed",
                    {"rule": "configure", **changed},
                    rules.settings_hash,
                    actor=actor,
                )
            )
    return configured
