"""The recovery ladder: recover a session's state from the best source that answers.

1. `replay`: Redis — the head state (one HMGET; checked once against PostgreSQL if
   it predates the running Redis server), else the latest snapshot plus the
   hot-stream events after it (or replay's PostgreSQL head plus those events), which
   is then put back into Redis.
2. `log`: while Redis is down — replay's PostgreSQL head plus ingest's log after it.
3. `cold`: ingest unreachable too — replay's latest stored state, flagged stale,
   with the person's long-term bias when a memory service answers.

Every step reads one stored state and only the events after it, so recovery costs
the same for a session of a hundred events as for one of a hundred thousand.

A `replay` state is compared with the log's head (ingest's last seq of the session):
more than `max_lag` events behind — the bus is down, the projection stalled — it is
served marked stale, with the lag, and `/ready` says degraded for a while.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson

from lifeline_clients import IngestClient, PeerRefusedError
from lifeline_common.errors import TransientError
from lifeline_events import Event, SessionState, canonical_json, fold
from lifeline_replay import store
from lifeline_replay.domain import Staleness, contiguous_after, staleness
from lifeline_replay.errors import HotStoreUnavailableError, RecoveryUnavailableError, SessionNotFoundError
from lifeline_replay.hot import Folded, HotStore
from lifeline_replay.memory import MemoryClient
from lifeline_replay.metrics import RECOVERIES, RECOVERY_SECONDS
from lifeline_store import StoreError


@dataclass(frozen=True)
class Recovered:
    """A recovered state as canonical JSON, with where it came from."""

    seq: int
    state_json: bytes
    mode: str
    as_of: str | None = None
    reason: str | None = None
    profile: Any = None
    lag: int | None = None
    """Events the log holds beyond this state, when the log answered."""
    behind: bool = False
    """The lag exceeds the setting: the state is served as stale."""

    def state(self) -> dict[str, Any]:
        return orjson.loads(self.state_json)

    def staleness(self) -> Staleness:
        return staleness(self.mode, self.as_of, self.reason, lag=self.lag, behind=self.behind)

    def model(self) -> SessionState:
        return SessionState.model_validate_json(self.state_json)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class Recovery:
    """Runs the ladder for one session at a time; shared by HTTP and WebSocket handlers."""

    def __init__(self, hot: HotStore, pool: asyncpg.Pool, ingest: IngestClient,
                 memory: MemoryClient | None = None, *, max_lag: int | None = 0) -> None:
        self._hot, self._pool, self._ingest, self._memory = hot, pool, ingest, memory
        self._max_lag = max_lag
        self.behind_seen: tuple[float, int] | None = None
        """(monotonic time, lag) of the last read that found the projection behind."""

    async def recover(self, tenant: str, session: str) -> Recovered:
        started = time.perf_counter()
        # The log's head is asked for while the ladder runs, so a read waits for the slower
        # of the two instead of both in turn (ingest's answer was most of a GET state's
        # latency; issue 10). Either may be read first: a lag below zero counts as none.
        head = (asyncio.ensure_future(self._log_head(tenant, session))
                if self._max_lag is not None else None)
        try:
            result = await self._ladder(tenant, session)
        except BaseException:
            _dismiss(head)
            raise
        if head is not None and result.mode == "replay":
            result = self._with_lag(result, await head)
        else:
            _dismiss(head)  # the log was read by the ladder itself, or is away
        RECOVERY_SECONDS.labels(result.mode).observe(time.perf_counter() - started)
        RECOVERIES.labels(result.mode).inc()
        return result

    async def _ladder(self, tenant: str, session: str) -> Recovered:
        reason = "redis unavailable"
        if self._hot.available:
            try:
                found = await self._from_hot(tenant, session)
            except HotStoreUnavailableError:
                found = None
            else:
                if found is not None:
                    return found
                reason = "not in replay's projection yet"
        try:
            return await self._from_log(tenant, session, reason)
        except (TransientError, PeerRefusedError) as exc:
            return await self._cold(tenant, session, f"{reason}; ingest's log unreachable ({exc})")

    async def _log_head(self, tenant: str, session: str) -> int | None:
        """ingest's last seq of the session; None when the log is away or knows no such session."""
        try:
            return await self._ingest.last_seq(tenant, session)
        except (TransientError, PeerRefusedError):
            return None

    def _with_lag(self, found: Recovered, log_seq: int | None) -> Recovered:
        """`found` with how far the log is ahead of it (unchanged when the log is away)."""
        if log_seq is None:
            return found
        lag = max(0, log_seq - found.seq)
        if self._max_lag is None or lag <= self._max_lag:
            return replace(found, lag=lag)
        self.behind_seen = (time.monotonic(), lag)
        return replace(found, lag=lag, behind=True,
                       reason=f"the projection is {lag} events behind the log (seq {log_seq})")

    async def _pg_head(self, tenant: str, session: str) -> store.StoredState | None:
        try:
            return await store.load_head(self._pool, tenant, session)
        except StoreError:
            return None

    async def _from_hot(self, tenant: str, session: str) -> Recovered | None:
        head = await self._hot.head(tenant, session)
        if head is not None and self._hot.fresh(head):
            return Recovered(head.seq, head.state, "replay", head.at or None)
        pg = await self._pg_head(tenant, session)
        if head is not None and (pg is None or pg.seq <= head.seq):
            await self._hot.rewarm(tenant, session, head)  # confirmed: stamp it as fresh
            return Recovered(head.seq, head.state, "replay", head.at or None)
        snap, tail = await self._hot.snapshot_and_tail(tenant, session)
        base: SessionState | None = SessionState.model_validate_json(snap.state) if snap else None
        as_of = snap.at if snap else None
        if pg is not None and (base is None or pg.seq > base.seq):
            base, as_of = SessionState.model_validate(pg.state), _iso(pg.recorded_at)
        start = base.seq if base is not None else 0
        seqs = [seq for seq, _ in tail if seq > start]
        events = [Event.from_json(body) for seq, body in tail if seq > start][: contiguous_after(seqs, start)]
        if base is None and not events:
            return None
        state = fold(events, base)
        if events:
            as_of = events[-1].recorded_at.isoformat()
        state_json = canonical_json(state)
        await self._hot.rewarm(tenant, session, Folded(state.seq, state_json, as_of or ""))
        return Recovered(state.seq, state_json, "replay", as_of)

    async def _from_log(self, tenant: str, session: str, reason: str) -> Recovered:
        pg = await self._pg_head(tenant, session)
        base = SessionState.model_validate(pg.state) if pg is not None else SessionState()
        events = await self._ingest.events(tenant, session, after_seq=base.seq)
        if pg is None and not events:
            raise SessionNotFoundError(f"no session {session!r} for this tenant")
        state = fold(events, base)
        as_of = events[-1].recorded_at.isoformat() if events else _iso(pg.recorded_at if pg else None)
        return Recovered(state.seq, canonical_json(state), "log", as_of, reason)

    async def _cold(self, tenant: str, session: str, reason: str) -> Recovered:
        pg = await self._pg_head(tenant, session)
        if pg is None:
            raise RecoveryUnavailableError(f"cannot recover {session!r}: {reason}; no stored snapshot")
        profile, person = None, pg.state.get("person_id")
        if self._memory is not None and person:
            profile = await self._memory.raw_bias(tenant, person)
        return Recovered(pg.seq, canonical_json(pg.state), "cold", _iso(pg.recorded_at), reason, profile)

    async def wait_beyond(self, tenant: str, session: str, seq: int, timeout_s: float,
                          mode: str) -> None:
        """Wait (at most `timeout_s`) for something newer than `seq` to be worth re-reading."""
        if mode == "replay" and self._hot.available:
            try:
                await self._hot.wait_after(tenant, session, seq, int(timeout_s * 1000), count=1)
                return
            except HotStoreUnavailableError:
                pass
        await asyncio.sleep(min(timeout_s, 0.05))


def _dismiss(task: asyncio.Future[int | None] | None) -> None:
    """Cancel a log-head read nobody needs any more; its outcome is retrieved, never raised."""
    if task is not None:
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
