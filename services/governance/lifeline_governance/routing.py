"""The in-memory routing table every process answers from, kept fresh by NOTIFY and a poll.

`{tenant: {intent: IntentRoutes}}` plus, per (tenant, intent), the answer serialized
once with its ETag, so the request path is a dict lookup returning stored bytes. A
decision commit NOTIFYs `governance_routing`; a listener reloads that tenant, and a
poll of every tenant's last decision seq (and the last tick) every `refresh_s` covers
lost notifications. When PostgreSQL is down the table keeps answering what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import structlog

from lifeline_governance.decisions import CHANNEL
from lifeline_governance.metrics import EFFECTIVE_SCORE, SUCCESS_RATE, TABLE_AGE
from lifeline_governance.route import IntentRoutes, RouteModel, answer

log = structlog.get_logger("lifeline.governance.routing")


@dataclass(frozen=True)
class RouteEntry:
    body: bytes
    etag: str
    as_of_seq: int


class RoutingTable:
    def __init__(
        self, pool: asyncpg.Pool, *, candidate_traffic: float, anomaly_block_s: int, refresh_s: float
    ) -> None:
        self._pool = pool
        self._traffic = candidate_traffic
        self._block = anomaly_block_s
        self._refresh = refresh_s
        self.tables: dict[str, dict[str, IntentRoutes]] = {}
        self.seqs: dict[str, int] = {}
        self._entries: dict[tuple[str, str], RouteEntry] = {}
        self._loaded_at = 0.0
        self._last_tick: Any = None
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._changed = asyncio.Event()

    def entry(self, tenant: str, intent: str) -> RouteEntry | None:
        """The stored answer (no sample key); computed and cached for known intents."""
        cached = self._entries.get((tenant, intent))
        if cached is not None:
            return cached
        seq = self.seqs.get(tenant, 0)
        body = answer(tenant, intent, self.tables.get(tenant, {}), seq)
        if body is None:
            return None
        made = RouteEntry(orjson.dumps(body), f'"{tenant}:{intent}:{seq}"', seq)
        if intent in self.tables.get(tenant, {}):
            self._entries[(tenant, intent)] = made
        return made

    def answer(self, tenant: str, intent: str, sample_key: str | None) -> dict[str, Any] | None:
        return answer(tenant, intent, self.tables.get(tenant, {}), self.seqs.get(tenant, 0), sample_key)

    async def wait_for(self, tenant: str, seq: int, timeout: float) -> bool:
        """Until the table has applied decision `seq` of `tenant` (read-after-write)."""
        deadline = time.monotonic() + timeout
        while self.seqs.get(tenant, 0) < seq:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self.reload(tenant)
                return self.seqs.get(tenant, 0) >= seq
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
        return True

    async def reload(self, tenant: str | None = None) -> None:
        """Rebuild one tenant's (or every tenant's) routes from the placements.

        Reloads run concurrently (a NOTIFY's, the poll's, a request's own after its commit)
        and can finish out of order: each reads the placements and the decision seq in one
        snapshot, and a tenant read at an older seq than the one installed is left as it is —
        else a reload begun before a promotion could put the old PRIMARY back after it.
        """
        where, args = ("WHERE p.tenant_id = $1", [tenant]) if tenant else ("", [])
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                                  readonly=True):
            rows = await conn.fetch(
                "SELECT p.tenant_id, p.intent, p.model_id, p.state, p.since, p.since_seq, p.shadow_rate, "
                "p.canary_traffic, p.last_anomaly_at, p.last_eval->'window'->>'effective_score' AS es, "
                "p.last_eval->'window'->>'success_rate' AS sr, coalesce(m.registered, false) AS registered, "
                "coalesce(i.frozen, false) AS frozen FROM governance.placements p "
                "LEFT JOIN governance.models m USING (tenant_id, model_id) "
                f"LEFT JOIN governance.intents i USING (tenant_id, intent) {where}",
                *args,
            )
            seqs = await conn.fetch(
                f"SELECT tenant_id, last_seq FROM governance.tenants {where.replace('p.', '')}", *args
            )
        grouped: dict[str, dict[str, tuple[bool, list[RouteModel]]]] = {}
        now = time.time()
        for r in rows:
            es = float(r["es"]) if r["es"] is not None else None
            anomaly = r["last_anomaly_at"]
            recent = anomaly is not None and now - anomaly.timestamp() < self._block
            traffic = r["canary_traffic"] if r["canary_traffic"] is not None else self._traffic
            grouped.setdefault(r["tenant_id"], {}).setdefault(r["intent"], (r["frozen"], []))[1].append(
                RouteModel(
                    r["model_id"],
                    r["state"],
                    r["since"].isoformat(),
                    r["since_seq"],
                    es,
                    float(traffic),
                    float(r["shadow_rate"]),
                    anomaly.isoformat() if recent else None,
                )
            )
            if r["registered"] and es is not None:
                EFFECTIVE_SCORE.labels(r["intent"], r["model_id"], r["state"]).set(es)
                if r["sr"] is not None:
                    SUCCESS_RATE.labels(r["intent"], r["model_id"], r["state"]).set(float(r["sr"]))
        read_seqs = {s["tenant_id"]: s["last_seq"] for s in seqs}
        tenants = [tenant] if tenant else sorted(set(grouped) | set(read_seqs))
        for name in tenants:
            seq = read_seqs.get(name, 0)
            if seq < self.seqs.get(name, 0):
                continue  # read before a decision this table already has
            self.tables[name] = {
                i: IntentRoutes(i, tuple(ms), frozen) for i, (frozen, ms) in grouped.get(name, {}).items()
            }
            self.seqs[name] = seq
            for key in [k for k in self._entries if k[0] == name]:
                del self._entries[key]
        self._loaded_at = time.monotonic()
        self._changed.set()

    async def start(self) -> None:
        await self.reload()
        with contextlib.suppress(Exception):
            self._listener = await self._pool.acquire()
            await self._listener.add_listener(CHANNEL, self._notified)
        self._task = asyncio.create_task(self._poll(), name="routing-refresh")

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        tenant = payload.rsplit(":", 1)[0]
        asyncio.get_running_loop().create_task(self._safe_reload(tenant))

    async def _safe_reload(self, tenant: str | None) -> None:
        try:
            await self.reload(tenant)
        except Exception as exc:  # the table keeps answering what it has
            log.warning("governance.routing_reload_failed", error=repr(exc))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            TABLE_AGE.set(time.monotonic() - self._loaded_at)
            try:
                seqs = dict(await self._pool.fetch("SELECT tenant_id, last_seq FROM governance.tenants"))
                tick = await self._pool.fetchval("SELECT max(tick) FROM governance.job_runs")
            except Exception as exc:
                log.warning("governance.routing_poll_failed", error=repr(exc))
                continue
            if tick != self._last_tick or any(self.seqs.get(t) != s for t, s in seqs.items()):
                self._last_tick = tick
                await self._safe_reload(None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(CHANNEL, self._notified)
                await self._pool.release(self._listener)
