"""What one event contributes to a session's memory: observations (pure).

An observation is one piece of evidence — "turn 14 showed error X, said the act" —
keyed by ``(seq, kind, code, source)``, so re-observing a redelivered event yields the
same keys and inserts nothing. ``observe`` is total on valid events: acts it does not
read are ignored, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lifeline_events import (
    ConfirmFactAct,
    ErrorAct,
    Event,
    FlagAct,
    RetractFactAct,
    SessionRestored,
    StrengthAct,
    TurnEvaluated,
    TurnRecorded,
)

from .rules import ComplianceRule, detect

Kind = Literal["error", "strength", "skill_tag", "flag", "fact", "grade", "restore"]
ITEM_KINDS: tuple[str, ...] = ("error", "strength", "skill_tag", "flag")
"""Kinds counted per distinct turn; ``fact`` is keyed, ``grade``/``restore`` are markers."""
KINDS: tuple[str, ...] = (*ITEM_KINDS, "fact", "grade", "restore")
NO_GRADER = "_"


@dataclass(frozen=True, order=True)
class Observation:
    """One piece of evidence; field order is the canonical sort order within a session."""

    seq: int
    kind: str
    code: str
    source: str
    turn_id: int | None
    intent: str | None
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    value: Any = None
    """``{"value": v}`` for a confirmed fact, ``None`` for a retraction; restores carry
    ``{"to_seq": s}``."""

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.seq, self.kind, self.code, self.source)


def observe(
    event: Event, current_intent: str | None, rules: tuple[ComplianceRule, ...] = ()
) -> list[Observation]:
    """The observations of ``event``; ``current_intent`` is the session's before it."""
    payload = event.payload

    def obs(
        kind: str, code: str, source: str, turn: int | None, intent: str | None, value: Any = None
    ) -> Observation:
        return Observation(
            seq=event.seq,
            kind=kind,
            code=code,
            source=source,
            turn_id=turn,
            intent=intent,
            event_id=str(event.event_id),
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            value=value,
        )

    if isinstance(payload, TurnRecorded):
        return _turn(payload, event.turn_id, payload.intent or current_intent, rules, obs)
    if isinstance(payload, TurnEvaluated):
        grader = payload.grader or NO_GRADER
        source, turn = f"grader:{grader}", payload.turn_id
        out = [obs("grade", grader, source, turn, current_intent)]
        for kind, codes in (
            ("error", payload.errors),
            ("strength", payload.strengths),
            ("skill_tag", payload.skill_tags),
        ):
            out += [obs(kind, code, source, turn, current_intent) for code in dict.fromkeys(codes)]
        return out
    if isinstance(payload, SessionRestored):
        to_seq = payload.state.get("seq", 0)
        return [
            obs(
                "restore",
                "restore",
                "log",
                None,
                None,
                {"to_seq": int(to_seq) if isinstance(to_seq, int) else 0},
            )
        ]
    return []


def _turn(
    payload: TurnRecorded, turn: int | None, intent: str | None, rules: tuple[ComplianceRule, ...], obs: Any
) -> list[Observation]:
    """Acts first (one row per kind/code: a code said twice on one turn is one turn),
    the last fact act per key wins, then rule flags."""
    found: dict[tuple[str, str, str], Observation] = {}
    for act in payload.acts:
        if isinstance(act, ErrorAct):
            found.setdefault(("error", act.code, "act"), obs("error", act.code, "act", turn, intent))
        elif isinstance(act, StrengthAct):
            found.setdefault(("strength", act.code, "act"), obs("strength", act.code, "act", turn, intent))
        elif isinstance(act, FlagAct):
            found.setdefault(("flag", act.name, "act"), obs("flag", act.name, "act", turn, intent))
        elif isinstance(act, ConfirmFactAct):
            found.pop(("fact", act.key, "act"), None)
            found[("fact", act.key, "act")] = obs("fact", act.key, "act", turn, intent, {"value": act.value})
        elif isinstance(act, RetractFactAct):
            found.pop(("fact", act.key, "act"), None)
            found[("fact", act.key, "act")] = obs("fact", act.key, "act", turn, intent, None)
    for name in detect(rules, payload.role, payload.text):
        source = f"rule:{name}"
        found.setdefault(("flag", name, source), obs("flag", name, source, turn, intent))
    return list(found.values())
