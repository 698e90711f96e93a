"""The `lifeline.turns.v1` consumer: records become appends, garbage goes to the DLQ.

Records are grouped by session, in stream order, and handed to the group committer
as one request per session; a duplicate turn is answered as over HTTP. A record the
log refuses for good (invalid, oversize, a foreign event id) is returned as rejected,
so the adapter dead-letters it with the reason and the original bytes. Store outages
raise a TransientError: the batch is retried and never acknowledged before it is
logged. Records for a branch whose `session.branched` is not logged yet wait for it a
little (it follows the branch's rows within milliseconds), then are dead-lettered with
the reason: a branch whose creation was interrupted must not stall the consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from lifeline_bus import Delivery
from lifeline_events import NewEvent, validate_traceparent
from lifeline_ingest.committer import EVENTS, AppendRequest, GroupCommitter
from lifeline_ingest.errors import AppendRejectedError, BranchPendingError, IntakeError
from lifeline_ingest.intake import parse_record
from lifeline_store import StoreConflictError
from lifeline_telemetry import root_traceparent

log = structlog.get_logger("lifeline.ingest.turns")
BRANCH_WAITS_S = (0.02, 0.05, 0.1, 0.2, 0.5)
"""Pauses before re-trying records for a branch still being created (then: dead-letter)."""


def own_trace(delivery: Delivery, event: NewEvent) -> NewEvent:
    """The record's own trace: its `traceparent` header, then the body's, else a new one.

    Never a neighbour's: records of one batch come from unrelated producers.
    """
    header = delivery.headers.get("traceparent")
    if header:
        try:
            return event.model_copy(update={"traceparent": validate_traceparent(header)})
        except ValueError:
            log.info("turns.bad_traceparent_header", delivery_id=delivery.id)
    if event.traceparent:
        return event
    return event.model_copy(update={"traceparent": root_traceparent()})


class TurnsHandler:
    """Callable batch handler bound to the committer and the intake limits."""

    def __init__(self, committer: GroupCommitter, *, default_tenant: str, max_event_bytes: int) -> None:
        self._committer = committer
        self._default_tenant = default_tenant
        self._max_event_bytes = max_event_bytes

    async def __call__(self, batch: list[Delivery]) -> Mapping[str, str]:
        rejected: dict[str, str] = {}
        by_session: dict[tuple[str, str], list[tuple[Delivery, NewEvent]]] = {}
        for delivery in batch:
            try:
                event = parse_record(delivery.value, default_tenant=self._default_tenant,
                                     max_event_bytes=self._max_event_bytes)
            except IntakeError as exc:
                EVENTS.labels("rejected", "topic").inc()
                rejected[delivery.id] = f"invalid record: {exc.detail}"
                continue
            key = (event.tenant_id or self._default_tenant, event.session_id or "")
            by_session.setdefault(key, []).append((delivery, own_trace(delivery, event)))
        # all sessions at once, so the whole batch shares one group commit
        await asyncio.gather(*(self._append(tenant, session, items, rejected)
                               for (tenant, session), items in by_session.items()))
        return rejected

    async def _append(self, tenant: str, session: str, items: list[tuple[Delivery, NewEvent]],
                      rejected: dict[str, str]) -> None:
        try:
            await self._append_once_branched(tenant, session, [e for _, e in items])
        except BranchPendingError as exc:  # every record of the session, for the same reason
            for delivery, _ in items:
                rejected[delivery.id] = f"refused by the log: {exc}"
        except (AppendRejectedError, StoreConflictError) as exc:
            if len(items) == 1:  # a foreign event id, or the session's room refuses the writer
                rejected[items[0][0].id] = f"refused by the log: {exc}"
                return
            for item in items:  # find the one the log refuses; the others still land
                await self._append(tenant, session, [item], rejected)

    async def _append_once_branched(self, tenant: str, session: str, events: list[NewEvent]) -> None:
        for pause in (*BRANCH_WAITS_S, None):
            try:
                await self._committer.append(AppendRequest(tenant, session, events, source="topic"))
                return
            except BranchPendingError:
                if pause is None:
                    raise
                await asyncio.sleep(pause)
