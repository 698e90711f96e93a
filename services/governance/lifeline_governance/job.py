"""The LifecycleJob: one leader across processes evaluates every intent on aligned ticks.

Leadership is a PostgreSQL advisory lock held on a dedicated connection (a leader that
dies loses it with its connection). Per tick and tenant: one aggregation over the
buckets of both windows, `evaluate()` per intent, then one transaction per intent that
first claims (tenant, intent, tick) — a re-run of the tick, or a second leader, finds
it claimed and adds nothing. While the projection lags, the tick is skipped and the
skip recorded; missed ticks are not back-filled (the next tick sees the same windows).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from lifeline_governance import buckets, decisions, store
from lifeline_governance.codec import encode_input, output_hash
from lifeline_governance.decide import evaluate
from lifeline_governance.errors import GovernanceError
from lifeline_governance.evaluation import Evaluation, job_decision_id
from lifeline_governance.metrics import JOB_RUNS, JOB_SECONDS, observe_decisions
from lifeline_governance.records import DecisionRecord
from lifeline_governance.rules import Rules
from lifeline_governance.windows import Figures, align_tick, windows_at
from lifeline_store import wrap_errors

log = structlog.get_logger("lifeline.governance.job")
LOCK_KEY = "lifeline.governance.job"

LagProbe = Callable[[], Awaitable[str | None]]  # None = fresh enough, else why not


@dataclass
class TickReport:
    tick: int
    outcome: str  # ran | skipped | dry_run
    reason: str | None = None
    intents: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)


def records_of(ev: Evaluation) -> list[DecisionRecord]:
    tick = datetime.fromtimestamp(ev.tick, UTC)
    return [
        DecisionRecord(
            job_decision_id(ev.tenant_id, ev.intent, ev.tick, d.rule, d.model_id),
            d.kind,
            ev.intent,
            d.model_id,
            d.from_state,
            d.to_state,
            d.rule,
            d.reason,
            d.inputs,
            ev.settings_hash,
            tick=tick,
            effective_score=d.effective_score,
            anomaly=d.anomaly,
        )
        for d in ev.decisions
    ]


class LifecycleJob:
    def __init__(
        self,
        pool: asyncpg.Pool,
        rules: Rules,
        *,
        default_weights: dict[str, float],
        lag_probe: LagProbe,
        after_commit: Callable[[], Awaitable[Any]],
        enabled: bool = True,
        retention_days: tuple[int, int] = (14, 30),
    ) -> None:
        self._pool, self.rules = pool, rules
        self._weights = default_weights
        self._lag = lag_probe
        self._after_commit = after_commit
        self._enabled = enabled
        self._task: asyncio.Task[None] | None = None
        self._retention = retention_days
        self._purged_at = 0.0
        self.last_run: TickReport | None = None

    async def run_tick(
        self,
        tick: int | None = None,
        *,
        intent: str | None = None,
        tenant: str | None = None,
        dry_run: bool = False,
        check_lag: bool = True,
    ) -> TickReport:
        """Evaluate every (or one) intent at `tick` (default: now, aligned to the second)."""
        tick = int(time.time()) if tick is None else tick
        started = time.perf_counter()
        if check_lag and (why := await self._lag()):
            report = TickReport(tick, "skipped", why)
            await self._record_run(report, dry_run)
            return report
        report = TickReport(tick, "dry_run" if dry_run else "ran")
        current, previous = windows_at(tick, self.rules.window_s, self.rules.settle_s)
        with wrap_errors("lifecycle tick"):
            tenants = await self._tenants(current.start, tenant)
            for name in sorted(tenants):
                await self._run_tenant(
                    report, name, tenants[name], (current.start, current.end), previous.start, intent, dry_run
                )
        await self._record_run(report, dry_run)
        JOB_SECONDS.observe(time.perf_counter() - started)
        if report.decisions and not dry_run:
            await self._after_commit()
        return report

    async def _tenants(self, since: int, only: str | None) -> dict[str, set[str]]:
        placed = await store.intents_with_placements(self._pool)
        for name in await store.tenants_with_buckets(self._pool, buckets.ts(since)):
            placed.setdefault(name, set())
        return {k: v for k, v in placed.items() if only is None or k == only}

    async def _run_tenant(
        self,
        report: TickReport,
        tenant: str,
        placed: set[str],
        current: tuple[int, int],
        previous_start: int,
        only: str | None,
        dry_run: bool,
    ) -> None:
        stats = await buckets.window_stats(
            self._pool, tenant, current, previous_start, [only] if only is not None else None
        )
        intents = sorted((placed | set(stats)) if only is None else {only} & (placed | set(stats)))
        snaps = await store.snapshots(self._pool, tenant, intents, self._weights)
        evaluated = []
        for name in intents:
            ev = evaluate(snaps[name], stats.get(name, {}), report.tick, self.rules)
            figures = {m: Figures.of(s.current, snaps[name].weight) for m, s in stats.get(name, {}).items()}
            evaluated.append((ev, figures, encode_input(snaps[name], stats.get(name, {}))))
            report.intents.append(
                {
                    "tenant_id": tenant,
                    "intent": name,
                    "decisions": [d.rule + ":" + d.model_id for d in ev.decisions],
                    "verdicts": {
                        v.model_id: {"verdict": v.verdict, "reasons": list(v.reasons)} for v in ev.verdicts
                    },
                }
            )
        if dry_run:
            report.decisions += [r for ev, _, _ in evaluated for r in records_of(ev)]
            return
        try:
            report.decisions += await self._persist(tenant, report.tick, evaluated)
        except GovernanceError as exc:  # a concurrent manual change: keep the others' decisions
            log.info("governance.tick_conflict", tenant=tenant, error=str(exc))
            for one in evaluated:
                with contextlib.suppress(GovernanceError):
                    report.decisions += await self._persist(tenant, report.tick, [one])

    async def _persist(
        self, tenant: str, tick: int, evaluated: list[tuple[Evaluation, dict[str, Figures], dict[str, Any]]]
    ) -> list[DecisionRecord]:
        """One transaction: claim (tenant, intent, tick), write decisions, save counters."""
        items = [
            {"intent": ev.intent, "input": inp, "output_sha256": output_hash(ev)} for ev, _, inp in evaluated
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await store.claim_ticks(conn, tenant, tick, self.rules.as_json(), items)
            mine = [(ev, figures) for ev, figures, _ in evaluated if ev.intent in claimed]
            records = [r for ev, _ in mine for r in records_of(ev)]
            written = await decisions.write(conn, tenant, records, datetime.now(UTC))
            if mine:
                await store.save_counters(conn, tenant, mine)
        observe_decisions(written)
        return written

    async def _record_run(self, report: TickReport, dry_run: bool) -> None:
        JOB_RUNS.labels(report.outcome).inc()
        self.last_run = report
        if dry_run:
            return
        with contextlib.suppress(Exception):
            await self._pool.execute(
                "INSERT INTO governance.job_runs (tick, outcome, detail) VALUES ($1, $2, $3) "
                "ON CONFLICT (tick) DO UPDATE SET outcome = EXCLUDED.outcome, detail = EXCLUDED.detail",
                datetime.fromtimestamp(report.tick, UTC),
                report.outcome,
                report.reason,
            )
        log.info(
            "governance.tick",
            tick=report.tick,
            outcome=report.outcome,
            reason=report.reason,
            intents=len(report.intents),
            decisions=len(report.decisions),
        )

    async def _maintain(self) -> None:
        """Retention, at most hourly: old buckets and evaluations go; decisions never do."""
        if time.monotonic() - self._purged_at < 3600 and self._purged_at:
            return
        self._purged_at = time.monotonic()
        await buckets.purge(self._pool, *self._retention)

    def start(self) -> None:
        if self._enabled:
            self._task = asyncio.create_task(self._loop(), name="lifecycle-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _loop(self) -> None:
        """Hold the leader lock while alive; run each aligned tick once."""
        interval = self.rules.interval_s
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._pool.acquire()
                while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK_KEY):  # noqa: ASYNC110
                    await asyncio.sleep(interval / 2)  # another process leads; take over when it dies
                while True:
                    now = time.time()
                    await asyncio.sleep(align_tick(now, interval) + interval - now)
                    await self.run_tick(align_tick(time.time(), interval))
                    await self._maintain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("governance.job_failed", error=repr(exc))
                await asyncio.sleep(min(5.0, interval))
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await self._pool.release(conn)
