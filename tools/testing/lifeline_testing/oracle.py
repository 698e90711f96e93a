"""The tests' truth: ingest's log, read through the same client projections use."""

from __future__ import annotations

from lifeline_clients import IngestClient
from lifeline_events import Event, SessionState, fold
from lifeline_testing.processes import TEST_API_KEY, TEST_KEYS


async def log_of(ingest_url: str, session: str, key: str = TEST_API_KEY) -> list[Event]:
    """Every event of `session` in ingest's log, in seq order, as `key`'s tenant sees it."""
    client = IngestClient(ingest_url, key, timeout=30)
    try:
        return await client.events(TEST_KEYS[key]["tenant"], session)
    finally:
        await client.aclose()


async def fold_of_log(ingest_url: str, session: str, key: str = TEST_API_KEY) -> SessionState:
    """The state the log implies: the shared fold of everything ingest holds for `session`."""
    return fold(await log_of(ingest_url, session, key))
