"""A session's events after a cursor, in seq order, each exactly once.

The hot stream is read with XREAD BLOCK from the cursor (entry ids are `{seq}-1`, so
"after N" is exact and shared by every replica). Where the stream does not reach back
to the cursor (trimmed behind a snapshot, or lost with a Redis restart) the hole is
filled from ingest's log; while Redis is down, ingest's log is polled instead.
"""

from __future__ import annotations

import asyncio

from lifeline_clients import IngestClient, PeerRefusedError
from lifeline_common.errors import TransientError
from lifeline_replay.domain import contiguous_after
from lifeline_replay.errors import GapError, HotStoreUnavailableError
from lifeline_replay.hot import Entry, HotStore

PAGE = 1000


class LiveFeed:
    """The events of one session after a moving cursor."""

    def __init__(self, hot: HotStore, ingest: IngestClient, tenant: str, session: str, *,
                 block_ms: int = 5000, poll_s: float = 0.25) -> None:
        self._hot, self._ingest = hot, ingest
        self._tenant, self._session = tenant, session
        self._block_ms, self._poll_s = block_ms, poll_s

    async def _log(self, after: int, until: int) -> list[Entry]:
        try:
            events = await self._ingest.events(self._tenant, self._session, after_seq=after, until_seq=until)
        except (TransientError, PeerRefusedError) as exc:
            raise GapError(f"events {after + 1}..{until} unreadable: {exc}") from exc
        return [(e.seq, e.to_json_bytes()) for e in events]

    async def _fill(self, cursor: int, entries: list[Entry], until: int | None = None) -> list[Entry]:
        """`entries` preceded by the log's events for any hole after `cursor`, cut at a hole.

        At most a page of the hole is read per call; the caller comes back for the rest.
        """
        first = entries[0][0] if entries else (until + 1 if until is not None else cursor + 1)
        if first > cursor + 1:
            upto = min(first - 1, cursor + PAGE)
            from_log = await self._log(cursor, upto)
            if len(from_log) != upto - cursor:
                raise GapError(f"ingest's log has {len(from_log)} of events {cursor + 1}..{upto}")
            if upto < first - 1:
                return from_log
            entries = [*from_log, *entries]
        return entries[: contiguous_after([seq for seq, _ in entries], cursor)]

    async def backlog(self, cursor: int, until: int) -> list[Entry]:
        """Up to a page of events (cursor, until], without waiting: what a client missed."""
        until = min(until, cursor + PAGE)
        if until <= cursor:
            return []
        entries: list[Entry] = []
        try:
            entries = await self._hot.after(self._tenant, self._session, cursor, count=until - cursor)
        except HotStoreUnavailableError:
            pass
        return await self._fill(cursor, [e for e in entries if e[0] <= until], until)

    async def next(self, cursor: int) -> list[Entry]:
        """Events after `cursor`, waiting up to the block time; [] when nothing came."""
        if self._hot.available:
            try:
                entries = await self._hot.wait_after(self._tenant, self._session, cursor, self._block_ms)
            except HotStoreUnavailableError:
                pass
            else:
                return await self._fill(cursor, entries) if entries else []
        try:
            found = await self._log(cursor, cursor + PAGE)
        except GapError:
            found = []
        if not found:
            await asyncio.sleep(self._poll_s)
        return found
