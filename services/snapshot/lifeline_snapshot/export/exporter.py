"""Export and import, over ingest's log: the I/O half of `bundle`.

The export is produced as a stream of byte chunks: ingest's log is read a page at
a time, each event redacted, hashed and written out, so a long session never sits in
memory whole. Snapshots, the profile, the redaction counts and the hashes follow the
events (that is why the bundle's keys are in that order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from lifeline_clients import IngestClient, MemoryClient
from lifeline_events import new_event_id
from lifeline_events.redaction import KINDS, redact
from lifeline_snapshot import store
from lifeline_snapshot.export.bundle import (
    SectionHasher,
    batches,
    canonical,
    header,
    redact_event,
    redact_snapshot,
    to_new_events,
)


class Exporter:
    def __init__(self, pool: asyncpg.Pool, ingest: IngestClient, memory: MemoryClient, *,
                 page: int = 1000) -> None:
        self._page = page
        self._pool = pool
        self._ingest = ingest
        self._memory = memory

    async def stream(self, tenant: str, session: str, last_seq: int, authorization: str,
                     person_id: str | None) -> AsyncIterator[bytes]:
        """The bundle's bytes; `last_seq` (from ingest) bounds the events exported."""
        counts: Counter[str] = Counter()
        head = header(exported_at=datetime.now(UTC).isoformat(), tenant_id=tenant, session_id=session,
                      last_seq=last_seq)
        yield orjson.dumps(head)[:-1] + b',"events":['
        events = SectionHasher()
        cursor = 0
        while cursor < last_seq:
            page = await self._ingest.events_page(tenant, session, cursor, min(self._page, last_seq - cursor))
            if not page:
                break
            chunk = [events.add(redact_event(raw, counts)) for raw in page]
            yield (b"," if cursor else b"") + b",".join(chunk)
            cursor = int(page[-1]["seq"])
        yield b'],"snapshots":['
        snapshots = SectionHasher()
        rows = await store.snapshots_with_state(self._pool, tenant, session)
        yield b",".join(snapshots.add(redact_snapshot(r.summary(with_state=True), counts)) for r in rows)
        profile = await self._memory.profile(person_id, authorization)
        profile_hasher = SectionHasher()
        redacted_profile = profile_hasher.add(None if profile is None else redact(profile, counts))
        hashes = {"events": events.hexdigest(), "snapshots": snapshots.hexdigest(),
                  "profile": profile_hasher.hexdigest()}
        redactions = canonical({kind: counts.get(kind, 0) for kind in KINDS})
        yield (b'],"profile":' + redacted_profile + b',"redactions":' + redactions
               + b',"hashes":' + canonical(hashes) + b"}")

    async def import_events(self, events: list[Any], *, preserve_turn_ids: bool,
                            authorization: str) -> tuple[str, int]:
        """Append the bundle's events to a new sandbox session as the caller; (session, last seq)."""
        session = f"sandbox-{new_event_id().hex}"
        expected, last = 0, 0
        for batch in batches(to_new_events(events, preserve_turn_ids=preserve_turn_ids)):
            results = await self._ingest.append(session, {"events": batch, "expected_seq": expected},
                                                authorization)
            last = max(r["seq"] for r in results)
            expected = last
        return session, last

