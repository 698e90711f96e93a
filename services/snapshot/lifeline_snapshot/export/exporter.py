"""Export and import, over ingest's log: the I/O half of `bundle`.

The export is produced as a stream of byte chunks: ingest's log is read a page at
a time, each event redacted, hashed and written out, so a long session never sits in
memory whole. Snapshots, versions, the profile, the redaction counts and the hashes
follow the events (that is why the bundle's keys are in that order).

An import appends the events to a new sandbox session, then recreates the bundle's
versions that still match its history (export/versions.py) on the sandbox's own fold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from lifeline_clients import IngestClient, MemoryClient
from lifeline_common.errors import LifelineError
from lifeline_events import Event, SessionState, apply, new_event_id
from lifeline_events.redaction import KINDS, redact
from lifeline_snapshot import store, versions_store
from lifeline_snapshot.announcer import Announcer
from lifeline_snapshot.domain import draft
from lifeline_snapshot.export.bundle import (
    SectionHasher,
    batches,
    canonical,
    header,
    redact_event,
    redact_snapshot,
    to_new_events,
)
from lifeline_snapshot.export.versions import BundleVersion, export_item, not_restored
from lifeline_store.compression import CompressionPolicy


class Exporter:
    def __init__(self, pool: asyncpg.Pool, ingest: IngestClient, memory: MemoryClient, *,
                 page: int = 1000, announcer: Announcer | None = None,
                 compression: CompressionPolicy | None = None) -> None:
        self._page = page
        self._pool = pool
        self._ingest = ingest
        self._memory = memory
        self._announcer = announcer
        self._compression = compression or CompressionPolicy()

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
        exported = [redact_snapshot(r.summary(with_state=True), counts) for r in rows]
        yield b",".join(snapshots.add(snap) for snap in exported)
        versions = SectionHasher()
        yield b'],"versions":[' + b",".join(
            versions.add(item) for item in await self._versions(tenant, session, exported, counts))
        profile = await self._memory.profile(person_id, authorization)
        profile_hasher = SectionHasher()
        redacted_profile = profile_hasher.add(None if profile is None else redact(profile, counts))
        hashes = {"events": events.hexdigest(), "snapshots": snapshots.hexdigest(),
                  "versions": versions.hexdigest(), "profile": profile_hasher.hexdigest()}
        redactions = canonical({kind: counts.get(kind, 0) for kind in KINDS})
        yield (b'],"profile":' + redacted_profile + b',"redactions":' + redactions
               + b',"hashes":' + canonical(hashes) + b"}")

    async def _versions(self, tenant: str, session: str, exported: list[dict[str, Any]],
                        counts: Counter[str]) -> list[dict[str, Any]]:
        """The session's versions, oldest first, of the snapshots just exported (one named
        in between, whose snapshot the bundle lacks, is left for the next export)."""
        hashes = {snap["snapshot_id"]: snap["content_hash"] for snap in exported}
        named = reversed(await versions_store.list_versions(self._pool, tenant, session, None))
        return [export_item(v.snapshot_id, v.at_seq, hashes[v.snapshot_id], v.message, v.tags,
                            v.versioned_at, counts) for v in named if v.snapshot_id in hashes]

    async def import_events(self, events: list[Event], *, preserve_turn_ids: bool,
                            authorization: str) -> tuple[str, list[int]]:
        """Append the bundle's events to a new sandbox session as the caller; (session, the
        seq each imported event got, in order)."""
        session = f"sandbox-{new_event_id().hex}"
        expected, assigned = 0, []
        for batch in batches(to_new_events(events, preserve_turn_ids=preserve_turn_ids)):
            results = await self._ingest.append(session, {"events": batch, "expected_seq": expected},
                                                authorization)
            assigned += [int(r["seq"]) for r in results]
            expected = max(assigned)
        return session, assigned


    async def restore_versions(self, tenant: str, session: str, wanted: list[tuple[BundleVersion, int]],
                               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Recreate each `(version, seq)` as a version of the imported session's state folded
        from its log up to `seq`; (restored, not restored with why)."""
        restored: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        if not wanted:
            return restored, refused
        log = await self._ingest.events(tenant, session, until_seq=max((s for _, s in wanted), default=0))
        state, i = SessionState(), 0
        for version, seq in sorted(wanted, key=lambda w: (w[1], w[0].at_seq)):
            while i < len(log) and log[i].seq <= seq:
                state, i = apply(state, log[i]), i + 1
            if seq == 0 or state.seq != seq:
                refused.append(not_restored(version, f"the imported session's log does not reach seq {seq}"))
                continue
            try:
                named = await versions_store.restore_version(
                    self._pool, tenant, session, draft(state, "import"), self._compression,
                    version.message, version.tags, version.versioned_at)
            except LifelineError as exc:  # the sandbox exists: report, do not lose its answer
                refused.append(not_restored(version, f"not stored: {exc}"))
                continue
            restored.append({**named.summary(), "source_version_id": version.version_id,
                             "source_at_seq": version.at_seq})
        if restored and self._announcer is not None:
            await self._announcer.announce(tenant=tenant, session=session)
        return restored, refused
