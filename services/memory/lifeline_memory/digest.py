"""Sealing a session: its live observations become a digest, the profile's only input (pure).

``seal`` depends only on the set of observations (not their order or how they were
batched), the session's scalars and the suppressions, so a redelivered event, a
re-applied batch or a re-seal can never count anything twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .canonical import iso, sha256_of
from .liveness import live_observations
from .observe import ITEM_KINDS, Observation
from .scalars import SessionScalars
from .texts import day, join_counts, sentence

ALGORITHM = 1
"""Bumped when sealing or profile rules change meaning (stored with every digest)."""
MAX_CODES_PER_KIND = 128
"""The shared fold's counter cap: new codes beyond it are dropped in first-seen order."""
MAX_TURNS_PER_CODE = 64
MAX_FACT_KEYS = 256


@dataclass(frozen=True)
class Suppression:
    """An admin's "this evidence does not count"; ``None`` fields match everything."""

    kind: str
    code: str
    session_id: str | None = None
    turn_id: int | None = None

    def hides(self, session_id: str, o: Observation) -> bool:
        return (
            o.kind == self.kind
            and o.code == self.code
            and (self.session_id is None or self.session_id == session_id)
            and (self.turn_id is None or self.turn_id == o.turn_id)
        )


def ref(o: Observation) -> dict[str, Any]:
    """How a digest cites one observation (``event_id`` opens the turn in trace-store)."""
    return {
        "turn_id": o.turn_id,
        "seq": o.seq,
        "event_id": o.event_id,
        "source": o.source,
        "intent": o.intent,
        "occurred_at": iso(o.occurred_at),
        "recorded_at": iso(o.recorded_at),
    }


def seal(
    session_id: str,
    observations: Iterable[Observation],
    scalars: SessionScalars,
    *,
    suppressions: Sequence[Suppression] = (),
    rules_hash: str = "",
) -> dict[str, Any]:
    """The digest of one session; ``status`` is ``finished`` once it has finished."""
    unique = {o.key: o for o in observations}
    live = live_observations(list(unique.values()))
    counted = [o for o in live if not any(s.hides(session_id, o) for s in suppressions)]
    items, truncated = _items(counted)
    facts = _facts(counted)
    finish = scalars.finished
    finished_at = finish.at if finish else (scalars.last_at or scalars.first_at)
    top_intent = min(scalars.intents.items(), key=lambda kv: (-kv[1], kv[0]))[0] if scalars.intents else None
    digest: dict[str, Any] = {
        "algorithm": ALGORITHM,
        "session_id": session_id,
        "person_id": scalars.person_id,
        "status": "finished" if finish else "provisional",
        "through_seq": finish.seq if finish else scalars.seq,
        "finished_at": iso(finished_at) if finished_at else None,
        "first_at": iso(scalars.first_at) if scalars.first_at else None,
        "finish_reason": finish.reason if finish else None,
        "turns": scalars.turns,
        "user_turns": scalars.user_turns,
        "intents": dict(sorted(scalars.intents.items())),
        "top_intent": top_intent,
        "items": items,
        "facts": facts,
        "truncated": truncated,
        "rules_hash": rules_hash,
    }
    digest["summary"] = session_summary(digest)
    return digest


def digest_hash(digest: dict[str, Any]) -> str:
    return sha256_of(digest)


def _items(counted: list[Observation]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Per kind, per code (first-seen order): distinct turns, intents and references."""
    per: dict[str, dict[str, dict[int | None, Observation]]] = {k: {} for k in ITEM_KINDS}
    sources: dict[tuple[str, str], set[str]] = {}
    truncated: set[str] = set()
    for o in counted:  # canonical order: seq first, so dict order is first-seen order
        if o.kind not in per:
            continue
        codes = per[o.kind]
        if o.code not in codes and len(codes) >= MAX_CODES_PER_KIND:
            truncated.add(o.kind)
            continue
        codes.setdefault(o.code, {}).setdefault(o.turn_id, o)
        sources.setdefault((o.kind, o.code), set()).add(o.source)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, codes in per.items():
        out[kind] = []
        for code, turns in codes.items():
            cited = sorted(turns.values(), key=_newest_first)
            intents: dict[str, int] = {}
            for o in cited:
                intents[o.intent or ""] = intents.get(o.intent or "", 0) + 1
            times = sorted(o.occurred_at for o in cited)
            out[kind].append(
                {
                    "code": code,
                    "n": len(cited),
                    "first_at": iso(times[0]),
                    "last_at": iso(times[-1]),
                    "intents": dict(sorted(intents.items())),
                    "sources": sorted(sources[(kind, code)]),
                    "refs": [ref(o) for o in cited[:MAX_TURNS_PER_CODE]],
                }
            )
    return out, sorted(truncated)


def _newest_first(o: Observation) -> tuple[int, str]:
    """Newest turn first; on a tie (never within one turn's map) the source decides."""
    return (-o.seq, o.source)


def _facts(counted: list[Observation]) -> list[dict[str, Any]]:
    """Per key (first-seen order), the session's final value; ``None`` means retracted."""
    final: dict[str, Observation] = {}
    for o in counted:
        if o.kind != "fact":
            continue
        if o.code not in final and len(final) >= MAX_FACT_KEYS:
            continue
        final[o.code] = o
    return [
        {
            "key": key,
            "value": (o.value or {}).get("value") if o.value is not None else None,
            "retracted": o.value is None,
            **ref(o),
        }
        for key, o in final.items()
    ]


def session_summary(d: dict[str, Any]) -> str:
    """``"{date}: {turns} turns ({user} by the person), mostly {intent}; errors …"``."""
    parts = [f"{d['turns']} turns ({d['user_turns']} by the person)"]
    if d["top_intent"]:
        parts[0] += f", mostly {d['top_intent']}"
    for kind, word in (("error", "errors"), ("strength", "strengths"), ("flag", "flags")):
        top = sorted(((i["code"], i["n"]) for i in d["items"][kind]), key=lambda p: (-p[1], p[0]))[:3]
        if top:
            parts.append(f"{word} {join_counts(top)}")
    when = day(d["finished_at"]) if d["finished_at"] else "undated"
    return sentence(f"{when}: " + "; ".join(parts), max_words=40)
