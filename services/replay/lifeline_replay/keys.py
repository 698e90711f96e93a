"""Redis key names and stream entry ids for replay's hot data (pure).

Every key carries the tenant, so one tenant can never read another's entries. A
hot-stream entry for event `seq` has the explicit id `{seq}-1`: Redis refuses an id
at or below the stream's top, which makes re-applying a batch a no-op, and "events
after seq N" is simply XREAD from `{N}-1`.
"""

from __future__ import annotations

PREFIX = "lifeline"


def hot_stream(tenant: str, session: str) -> str:
    """The session's events after its latest snapshot, one entry per event."""
    return f"{PREFIX}:hot:{tenant}:{session}"


def head_state(tenant: str, session: str) -> str:
    """Hash {seq, state, at}: the folded state after the last applied event."""
    return f"{PREFIX}:state:{tenant}:{session}"


def snapshot(tenant: str, session: str) -> str:
    """Hash {seq, state, at}: the latest snapshot; the hot stream starts after it."""
    return f"{PREFIX}:snap:{tenant}:{session}"


def entry_id(seq: int) -> str:
    return f"{seq}-1"


def seq_of(entry: bytes | str) -> int:
    """The event seq of a hot-stream entry id."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    return int(text.split("-", 1)[0])
