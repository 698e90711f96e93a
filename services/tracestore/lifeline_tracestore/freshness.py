"""Read-after-write: a query with `?min_seq=` waits until the session's traces reach it.

The consumer in this process wakes local waiters after each commit; waiters also
poll the checkpoint, so a trace stored by another replica is seen too. The wait is
bounded: past the deadline the caller gets 504 naming how far the store got (the same
answer as every service's `?min_seq=`), or 404 when the store never saw the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg

from lifeline_servicekit import ProblemError, session_not_found
from lifeline_store import wrap_errors
from lifeline_tracestore import store

_POLL_S = 0.05


class Freshness:
    """Wake-ups from this process's consumer, and the bounded wait built on them."""

    def __init__(self, pool: asyncpg.Pool, *, max_wait_ms: int) -> None:
        self._pool = pool
        self._max_wait_s = max_wait_ms / 1000
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Something was committed: wake every waiter to re-check."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, tenant: str, session: str, min_seq: int | None) -> None:
        """Return once traces up to `min_seq` are stored; 504 (404 for a session never seen)
        after the bounded wait."""
        if not min_seq:
            return
        deadline = time.monotonic() + self._max_wait_s
        while True:
            with wrap_errors("read trace checkpoint"):
                have = await store.stored_seq(self._pool, tenant, session)
            if have >= min_seq:
                return
            left = deadline - time.monotonic()
            if left <= 0 and have == 0:
                raise session_not_found(session, f"no traces of session {session!r} in this tenant "
                                        f"(waited {self._max_wait_s:g}s for min_seq={min_seq})")
            if left <= 0:
                raise ProblemError(504, "Timeout",
                                   f"traces of session {session!r} are stored up to seq {have}, "
                                   f"min_seq={min_seq} not reached within {self._max_wait_s:g}s",
                                   stored_seq=have, min_seq=min_seq)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, _POLL_S))
