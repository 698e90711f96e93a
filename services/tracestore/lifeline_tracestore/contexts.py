"""Contexts of log rows stored without one: rebuilt on read, materialised before deletes.

A log row stores its context only when it is an anchor (`domain.is_anchor`); the
others are rebuilt from the nearest anchor before them and the stored events between
(`domain.rebuild_contexts`), at most `LIFELINE_TRACE_CONTEXT_EVERY` events per row, with
one query per page of rows, whatever the number of sessions in it. Every read that
returns contexts goes through `with_contexts`, so a rebuilt context is exactly what the
row stored before anchors existed.

Whole day partitions can be dropped safely (a row's chain never leaves its day), but a
row-wise delete (the boundary day's trim, one tenant's cleanup, `DELETE /replay/{id}`)
can remove a row another row's context is rebuilt through: the context-less row right
after each deleted one is given its context first (`keep_chains`), in the delete's
transaction, so it becomes an anchor. A row stored later right after a deleted one keeps
its own context (`store.insert_from_log` finds no predecessor), and an advisory lock
keeps the two from crossing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import structlog

from lifeline_tracestore import store
from lifeline_tracestore.domain import day_of, day_start, rebuild_contexts

log = structlog.get_logger("lifeline.tracestore.contexts")
Target = tuple[str, str, int, datetime]  # tenant, session, seq, ts


def _needs_context(row: Mapping[str, Any]) -> bool:
    """A log row stored without a context (lifecycle rows have no seq and keep theirs)."""
    return row["context_snapshot"] is None and row["seq"] is not None


async def rebuild(conn: store.Executor, targets: Sequence[Target]) -> dict[tuple[str, str, int], bytes]:
    """The canonical context of each (tenant, session, seq) target that can be rebuilt."""
    groups: dict[tuple[str, str, datetime], list[int]] = {}
    for tenant, session, seq, ts in targets:
        groups.setdefault((tenant, session, day_start(day_of(ts))), []).append(seq)
    chains = await store.context_chains(
        conn, [(t, s, min(seqs), max(seqs), day) for (t, s, day), seqs in groups.items()])
    out: dict[tuple[str, str, int], bytes] = {}
    for i, ((tenant, session, _), seqs) in enumerate(groups.items()):
        for seq, context in rebuild_contexts(chains.get(i, []), set(seqs)).items():
            out[tenant, session, seq] = context
    return out


async def with_contexts(conn: store.Executor, tenant: str | None, rows: Sequence[Mapping[str, Any]]
                        ) -> list[Mapping[str, Any]]:
    """`rows` with every context-less log row's context rebuilt (the rest untouched).

    `tenant` is the rows' tenant, or None when each row carries its `tenant_id`."""
    missing = [r for r in rows if _needs_context(r)]
    if not missing:
        return list(rows)

    def key(r: Mapping[str, Any]) -> tuple[str, str, int]:
        return (tenant if tenant is not None else r["tenant_id"], r["session_id"], int(r["seq"]))

    rebuilt = await rebuild(conn, [(*key(r), r["ts"]) for r in missing])
    out: list[Mapping[str, Any]] = []
    for r in rows:
        if not _needs_context(r):
            out.append(r)
            continue
        context = rebuilt.get(key(r))
        if context is None:  # its anchor or an event between was deleted outside trace-store
            log.warning("context.unrecoverable", trace_id=str(r["trace_id"]), session_id=r["session_id"],
                        seq=r["seq"])
        out.append({**dict(r), "context_snapshot": orjson.loads(context) if context is not None else None})
    return out


async def keep_chains(conn: asyncpg.Connection, table: str, doomed: str, *args: Any) -> int:
    """Before deleting the rows of `table` matching `doomed` (SQL on alias `{t}`): store the
    context of each context-less row right after one of them; returns how many.

    Takes `store.CHAINS_LOCK` for the rest of the transaction first: a batch being stored
    commits its rows before (so they are seen here), or stores them once the delete has
    committed (so a row whose predecessor is deleted keeps its own context)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", store.CHAINS_LOCK)
    targets = [(r["tenant_id"], r["session_id"], r["seq"], r["ts"])
               for r in await store.successors(conn, table, doomed, *args)]
    if not targets:
        return 0
    rebuilt = await rebuild(conn, targets)
    await store.set_contexts(conn, [(t, s, q, ts, rebuilt[t, s, q].decode())
                                    for t, s, q, ts in targets if (t, s, q) in rebuilt])
    return len(targets)
