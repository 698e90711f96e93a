"""Gap healing: make a session's new events a contiguous run from its checkpoint.

An event that arrives ahead of a gap (seq > last + 1) makes the projection read the
missing range from ingest's log. This runs before the projection's transaction
opens, so no row lock is held across an HTTP call; because checkpoints only grow, a
run that is contiguous from the checkpoint read here stays contiguous (only shorter
at its front) from the checkpoint locked later.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from lifeline_events import Event
from lifeline_projection.batch import Run, SessionKey
from lifeline_projection.metrics import HEALED

log = structlog.get_logger("lifeline.projection")


class LogReader(Protocol):
    """What healing needs of ingest (`lifeline_clients.IngestClient` is one)."""

    async def events(self, tenant: str, session: str, *, after_seq: int = 0,
                     until_seq: int | None = None, page: int = 1000) -> list[Event]: ...


async def heal(name: str, reader: LogReader | None, key: SessionKey, last: int, fresh: Run) -> Run:
    """The longest run last+1, last+2, … from `fresh` plus what ingest's log fills in.

    `fresh` holds events past `last`, in seq order. Without a reader, or where the log
    lacks an event too, the run stops before the first hole (the rest waits for the
    next delivery that heals it).
    """
    if not fresh:
        return fresh
    expected = range(last + 1, fresh[-1].seq + 1)
    if len(fresh) == len(expected):
        return fresh  # distinct seqs in (last, end]: nothing is missing
    have: dict[int, tuple[Event, bytes | None]] = {e.seq: (e, raw) for e, raw in fresh.pairs()}
    missing = [s for s in expected if s not in have]
    if reader is not None:
        fetched = await reader.events(key.tenant_id, key.session_id, after_seq=missing[0] - 1,
                                      until_seq=missing[-1])
        HEALED.labels(name).inc(len(fetched))
        for event in fetched:
            have.setdefault(event.seq, (event, None))
    run: list[tuple[Event, bytes | None]] = []
    for seq in expected:
        if seq not in have:
            log.warning("projection.gap_unhealed", projection=name, session=key.session_id,
                        missing_from=seq)
            break
        run.append(have[seq])
    return Run(run)
