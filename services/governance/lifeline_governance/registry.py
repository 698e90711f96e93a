"""Placements, the legal transitions between their states, and the fold of the log (pure).

A placement is a model's lifecycle for one intent. Every state change is one decision
row; the placements are `fold(decisions)`, so the table can always be rebuilt from the
append-only log and checked against it. A swap (new PRIMARY, old PRIMARY → ACTIVE) is
two rows in one transaction, the demotion first, so applying rows in order never holds
two PRIMARYs — the same order the partial unique index needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from lifeline_governance.errors import (
    NotFoundError,
    QuarantinedError,
    StateMismatchError,
    TransitionRefusedError,
)

State = Literal["SHADOW", "CANDIDATE", "PRIMARY", "ACTIVE", "QUARANTINED"]
STATES: tuple[State, ...] = ("SHADOW", "CANDIDATE", "PRIMARY", "ACTIVE", "QUARANTINED")
TERMINAL: State = "QUARANTINED"

MANUAL: frozenset[tuple[str, str]] = frozenset(
    {
        ("SHADOW", "CANDIDATE"),
        ("CANDIDATE", "PRIMARY"),
        ("ACTIVE", "PRIMARY"),
        ("CANDIDATE", "SHADOW"),
        ("ACTIVE", "SHADOW"),
        *((s, TERMINAL) for s in STATES if s != TERMINAL),
    }
)
"""What an admin may do by hand (spec §B.3); PRIMARY leaves only by a swap or quarantine."""


@dataclass(frozen=True)
class Placement:
    """One model's lifecycle for one intent, with the counters the rules keep."""

    model_id: str
    state: State
    since: int = 0  # epoch seconds
    since_seq: int = 0
    registered: bool = True
    pinned: bool = False
    streak: int = 0
    enter_streak: int = 0
    counted_until: int | None = None
    quarantine_streak: int = 0
    last_anomaly_at: int | None = None


@dataclass(frozen=True)
class IntentSnapshot:
    """Everything `evaluate()` needs about one intent besides the windows."""

    tenant_id: str
    intent: str
    weight: float = 1.0
    frozen: bool = False
    last_primary_change_at: int | None = None
    placements: tuple[Placement, ...] = ()

    def placement(self, model_id: str) -> Placement | None:
        return next((p for p in self.placements if p.model_id == model_id), None)

    @property
    def primary(self) -> Placement | None:
        return next((p for p in self.placements if p.state == "PRIMARY"), None)


@dataclass(frozen=True)
class Change:
    """One state change of one placement (= one decision row); from None = registration."""

    model_id: str
    from_state: State | None
    to_state: State


def rank_key(state: str, es: float | None, model_id: str) -> tuple[float, int, str]:
    """Failover order: best ES, ACTIVE before CANDIDATE, then model id (deterministic)."""
    return (-(es if es is not None else -1.0), 0 if state == "ACTIVE" else 1, model_id)


def plan_manual(
    snapshot: IntentSnapshot,
    model_id: str,
    to_state: State,
    *,
    expected_state: State | None = None,
    successors: Iterable[str] = (),
) -> list[Change]:
    """The changes a manual transition makes, in applying order; refuses illegal ones.

    `successors` are the models (best first) that may take over when a PRIMARY is
    quarantined by hand; the first one in ACTIVE or CANDIDATE becomes PRIMARY.
    """
    placement = snapshot.placement(model_id)
    if placement is None:
        raise NotFoundError(f"model '{model_id}' has no placement for intent '{snapshot.intent}'")
    current = placement.state
    if current == TERMINAL:
        raise QuarantinedError(
            f"'{model_id}' is QUARANTINED for '{snapshot.intent}'; that is terminal "
            "(fix forward under a new model id)",
            state=TERMINAL,
        )
    if expected_state is not None and expected_state != current:
        raise StateMismatchError(
            f"'{model_id}' is {current}, not {expected_state}",
            current_state=current,
            expected_state=expected_state,
        )
    if current == to_state:
        raise TransitionRefusedError(f"'{model_id}' is already {current}", state=current)
    if current == "PRIMARY" and to_state != TERMINAL:
        raise TransitionRefusedError(
            f"'{model_id}' is PRIMARY: promote its replacement instead (the swap demotes it to ACTIVE)",
            state=current,
        )
    if (current, to_state) not in MANUAL:
        raise TransitionRefusedError(f"{current} → {to_state} is not a legal transition", state=current)
    changes: list[Change] = []
    primary = snapshot.primary
    if to_state == "PRIMARY" and primary is not None:
        changes.append(Change(primary.model_id, "PRIMARY", "ACTIVE"))
    changes.append(Change(model_id, current, to_state))
    if current == "PRIMARY" and to_state == TERMINAL:
        states = {p.model_id: p.state for p in snapshot.placements}
        heirs = (m for m in successors if m != model_id and states.get(m) in ("ACTIVE", "CANDIDATE"))
        heir = next(heirs, None)
        if heir is not None:
            changes.append(Change(heir, states[heir], "PRIMARY"))
    return changes


class FoldError(ValueError):
    """The decision log contradicts itself (a change from a state the model was not in)."""


def apply_change(states: dict[str, State], change: Change) -> dict[str, State]:
    """One decision applied to a {model: state} map; checks the invariants."""
    current = states.get(change.model_id)
    if change.from_state != current:
        raise FoldError(f"{change.model_id}: log says from {change.from_state}, fold has {current}")
    if current == TERMINAL:
        raise FoldError(f"{change.model_id}: left QUARANTINED")
    others = (s for m, s in states.items() if m != change.model_id)
    if change.to_state == "PRIMARY" and "PRIMARY" in others:
        raise FoldError(f"{change.model_id}: a second PRIMARY")
    return {**states, change.model_id: change.to_state}


def fold(changes: Iterable[Change]) -> dict[str, State]:
    """The placements' states that a sequence of decisions (in seq order) leaves."""
    states: dict[str, State] = {}
    for change in changes:
        states = apply_change(states, change)
    return states


def with_states(snapshot: IntentSnapshot, states: Mapping[str, State], at: int, seq: int) -> IntentSnapshot:
    """The snapshot after changes: changed placements restart their counters."""
    out = []
    known = {p.model_id for p in snapshot.placements}
    for p in snapshot.placements:
        new = states.get(p.model_id, p.state)
        out.append(
            p
            if new == p.state
            else replace(p, state=new, since=at, since_seq=seq, streak=0, enter_streak=0, quarantine_streak=0)
        )
    out += [Placement(m, s, at, seq) for m, s in sorted(states.items()) if m not in known]
    return replace(snapshot, placements=tuple(out))
