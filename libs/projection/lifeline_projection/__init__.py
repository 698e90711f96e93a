"""Projections: idempotent, gap-healing consumers of `lifeline.events.v1`.

    Projection(pool, *, schema, name, apply, ingest=None, after_commit=None, bus_kind="")
        await projection.ensure_schema()
        bus.consume(TOPIC_EVENTS, name, projection)      # `__call__(batch)` is the handler

    apply(conn, by_session: Mapping[SessionKey, Sequence[Event]])   once per bus batch,
        in the batch's transaction, only fresh contiguous events per session
    after_commit(committed: Mapping[SessionKey, Sequence[Event]])   once per batch

`raw_json(events)` gives the JSON bytes each event was delivered as; `KeptStates` keeps
the state each session was last folded to, for the next batch that follows it.
"""

from lifeline_projection.batch import AfterCommit, BatchApply, Run, SessionKey, raw_json
from lifeline_projection.healing import LogReader
from lifeline_projection.kept import KeptStates
from lifeline_projection.projection import Projection

__all__ = ["AfterCommit", "BatchApply", "KeptStates", "LogReader", "Projection", "Run", "SessionKey",
           "raw_json"]
