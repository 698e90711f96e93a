"""The projection's apply: scalars, observations and, on ``session.finished``, the seal.

Runs inside the projection's transaction, so effects and checkpoint commit together:
a redelivered event is below the checkpoint, a re-applied batch after a crash inserts
nothing twice (observation keys), and a digest is an upsert of a pure function.
Consolidation runs after the commit (``after_commit``), under the person's row lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg
import structlog
from prometheus_client import Counter

from lifeline_events import Event
from lifeline_memory import store
from lifeline_memory.consolidation import absorb
from lifeline_memory.observe import Observation
from lifeline_memory.policy import Policy
from lifeline_memory.scalars import SessionScalars, advance
from lifeline_memory.sealing import reseal
from lifeline_projection import SessionKey

log = structlog.get_logger("lifeline.memory")

NO_PERSON = Counter(
    "lifeline_memory_sessions_without_person_total",
    "Finished sessions no event named a person for (digest kept, no profile).",
)
DROPPED = Counter(
    "lifeline_memory_forgotten_events_total",
    "Events of forgotten persons or sessions dropped by the projection.",
)
SKIPPED_EVENTS = Counter("lifeline_memory_events_skipped_total",
                         "Events the consumer could not read (counted, logged with the event id, skipped).")
SEALED = Counter("lifeline_memory_digests_sealed_total", "Session digests sealed on session.finished.")


@dataclass(frozen=True)
class Finished:
    """A person to consolidate after the commit, and what triggered it."""

    tenant_id: str
    person_id: str
    session_id: str
    seq: int
    traceparent: str | None


class MemoryHandlers:
    """Holds the policy and the persons a committed batch made dirty."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self.pending: dict[SessionKey, list[Finished]] = {}

    async def apply_batch(
        self, conn: asyncpg.Connection, by_session: Mapping[SessionKey, Sequence[Event]]
    ) -> None:
        """One call per bus batch with only fresh, contiguous events per session."""
        by_tenant: dict[str, list[SessionKey]] = {}
        for key in by_session:
            by_tenant.setdefault(key.tenant_id, []).append(key)
        for tenant, keys in sorted(by_tenant.items()):
            await self._apply_tenant(conn, tenant, {k.session_id: by_session[k] for k in sorted(keys)})

    async def _apply_tenant(
        self, conn: asyncpg.Connection, tenant: str, events: Mapping[str, Sequence[Event]]
    ) -> None:
        scalars = await store.load_scalars(conn, tenant, list(events))
        persons = {e.person_id for evs in events.values() for e in evs if e.person_id}
        persons |= {s.person_id for s in scalars.values() if s.person_id}
        tombs = await store.tombstones_for(conn, tenant, sorted(persons), list(events))
        saved: list[tuple[str, SessionScalars]] = []
        found: list[tuple[str, Observation]] = []
        finished: list[tuple[str, SessionScalars, int, str | None]] = []
        for session, evs in events.items():
            before = scalars.get(session, SessionScalars())
            kept = [e for e in evs if not is_forgotten(tombs, session, e.person_id or before.person_id, e)]
            DROPPED.inc(len(evs) - len(kept))
            if not kept:
                continue
            after, observations = _absorb_tolerant(before, kept, self._policy)
            saved.append((session, after))
            found += [(session, o) for o in observations]
            finish = next((e for e in reversed(kept) if e.event_type == "session.finished"), None)
            if finish is not None:
                finished.append((session, after, finish.seq, finish.traceparent))
            elif after.finished is not None and before.person_id is None and after.person_id is not None:
                # finished without a person; a later event named them: the session joins their profile
                finished.append((session, after, after.finished.seq, kept[-1].traceparent))
        await store.save_scalars(conn, tenant, saved)
        await store.insert_observations(conn, tenant, found)
        for session, after, seq, traceparent in finished:
            if after.person_id is None:  # scalars and observations are kept: sealed once a person is named
                NO_PERSON.inc()
                log.info("memory.session_without_person", session_id=session)
                continue
            await reseal(conn, tenant, session, after, self._policy)
            await store.mark_dirty(conn, tenant, after.person_id, session, seq, traceparent)
            SEALED.inc()
            self.pending.setdefault(SessionKey(tenant, session), []).append(
                Finished(tenant, after.person_id, session, seq, traceparent)
            )


class AfterCommit:
    """Consolidate the persons a committed batch finished, then announce new versions."""

    def __init__(
        self,
        handlers: MemoryHandlers,
        consolidate: Callable[..., Awaitable[object]],
        announce: Callable[..., Awaitable[int]],
    ) -> None:
        self._handlers = handlers
        self._consolidate = consolidate
        self._announce = announce

    async def __call__(self, committed: Mapping[SessionKey, Sequence[Event]]) -> None:
        finished = [f for key in committed for f in self._handlers.pending.pop(key, [])]
        if not finished:
            return
        for f in finished:
            try:
                await self._consolidate(
                    f.tenant_id,
                    f.person_id,
                    reason="session_finished",
                    source_session=f.session_id,
                    source_seq=f.seq,
                    traceparent=f.traceparent,
                )
            except Exception as exc:  # the person stays dirty: the sweeper finishes it
                log.warning("memory.consolidate_failed", person_id=f.person_id, error=repr(exc))
        await self._announce()


def _absorb_tolerant(before: SessionScalars, events: Sequence[Event],
                     policy: Policy) -> tuple[SessionScalars, list[Observation]]:
    """``absorb``, but an event the pure code cannot read (a bug, or an act shape it does not
    know) is counted and skipped with its event id, instead of stopping the consumer."""
    try:
        return absorb(before, events, policy.rules)
    except Exception:
        pass
    scalars, found = before, []
    for event in events:
        try:
            scalars, more = absorb(scalars, [event], policy.rules)
        except Exception as exc:
            SKIPPED_EVENTS.inc()
            log.error("memory.event_skipped", event_id=str(event.event_id), session_id=event.session_id,
                      seq=event.seq, error=repr(exc))
            scalars = advance(scalars, event) if _advances(scalars, event) else scalars
            continue
        found += more
    return scalars, found


def _advances(scalars: SessionScalars, event: Event) -> bool:
    try:
        advance(scalars, event)
        return True
    except Exception:
        return False


def is_forgotten(tombs: Sequence[asyncpg.Record], session: str, person: str | None, event: Event) -> bool:
    """A forgotten session's events never come back; a forgotten person's earlier events
    neither (recorded before the forget), and later ones only with ``block_future``."""
    for t in tombs:
        if t["session_id"] == session:
            return True
        if (
            t["session_id"] == ""
            and t["person_id"] == person
            and (t["block_future"] or event.recorded_at <= t["forgotten_at"])
        ):
            return True
    return False
