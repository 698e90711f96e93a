"""How each act changes session state: one small pure function per ``op``.

Dispatch is by the act's type (``functools.singledispatch``, as in eventsourcing's
aggregate7), so adding an act means adding a model and one function here. Every
function returns a new state and never mutates the containers of the old one, which
other holders (snapshots, caches) may still be reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import singledispatch
from typing import Any, TypeVar

from pydantic import BaseModel

from .acts import (
    AddEpisodeAct,
    CompleteObjectiveAct,
    ConfirmFactAct,
    ErrorAct,
    FlagAct,
    PinAct,
    RetractFactAct,
    SetObjectiveAct,
    SetStageAct,
    StrengthAct,
    UnpinAct,
)
from .state import Episode, FlagState, Objective, PinnedItem, SessionState

V = TypeVar("V")
M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def changed(model: M, update: Mapping[str, Any]) -> M:
    """``model.model_copy(update=update)`` at about half the cost, for the fold's hot path.

    The same shallow copy as pydantic's, without its generic machinery. For models that
    ignore or forbid extra fields, as every state model does; like ``model_copy``, the
    update is not validated, so callers pass values of the fields' types.
    """
    new = model.__class__.__new__(model.__class__)
    extra, private = model.__pydantic_extra__, model.__pydantic_private__
    _set(new, "__dict__", {**model.__dict__, **update})
    _set(new, "__pydantic_extra__", None if extra is None else dict(extra))
    _set(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _set(new, "__pydantic_private__", None if private is None else dict(private))
    return new


def bump(counter: Mapping[str, int], key: str, cap: int, by: int = 1) -> dict[str, int]:
    """Return ``counter`` with ``key`` incremented; a new key beyond ``cap`` is dropped.

    Dropping (not evicting) keeps the rule order-free, so a state restored from JSON
    behaves exactly like the live one.
    """
    if key not in counter and len(counter) >= cap:
        return dict(counter)
    return {**counter, key: counter.get(key, 0) + by}


def put_capped(mapping: Mapping[str, V], key: str, value: V, cap: int) -> dict[str, V]:
    """Return ``mapping`` with ``key`` set, unless it is new and the map is full."""
    if key not in mapping and len(mapping) >= cap:
        return dict(mapping)
    return {**mapping, key: value}


def _recent_last(items: tuple[str, ...], key: str, cap: int) -> tuple[str, ...]:
    """Move/append ``key`` to the end, keep the ``cap`` most recent."""
    return (*(item for item in items if item != key), key)[-cap:]


@singledispatch
def apply_act(act: BaseModel, state: SessionState, seq: int) -> SessionState:
    """Apply one act of the turn at ``seq``; unknown act types are a bug."""
    raise TypeError(f"no fold rule for act {type(act).__name__}")


@apply_act.register
def _set_stage(act: SetStageAct, state: SessionState, seq: int) -> SessionState:
    return changed(state, {"stage": act.stage})


@apply_act.register
def _confirm_fact(act: ConfirmFactAct, state: SessionState, seq: int) -> SessionState:
    facts = put_capped(state.confirmed_facts, act.key, act.value, state.limits.max_facts)
    retracted = tuple(key for key in state.retracted_facts if key != act.key)
    return changed(state, {"confirmed_facts": facts, "retracted_facts": retracted})


@apply_act.register
def _retract_fact(act: RetractFactAct, state: SessionState, seq: int) -> SessionState:
    facts = {k: v for k, v in state.confirmed_facts.items() if k != act.key}
    retracted = _recent_last(state.retracted_facts, act.key, state.limits.max_retracted)
    return changed(state, {"confirmed_facts": facts, "retracted_facts": retracted})


def _objective_order(objective: Objective) -> tuple[int, int, str]:
    return (-objective.priority, objective.seq, objective.id)


@apply_act.register
def _set_objective(act: SetObjectiveAct, state: SessionState, seq: int) -> SessionState:
    others = [o for o in state.objectives if o.id != act.id]
    if len(others) == len(state.objectives) and len(others) >= state.limits.max_objectives:
        return state
    new = Objective(id=act.id, text=act.text, priority=act.priority, seq=seq)
    objectives = tuple(sorted([*others, new], key=_objective_order))
    completed = tuple(c for c in state.completed_objectives if c != act.id)
    return changed(state, {"objectives": objectives, "completed_objectives": completed})


@apply_act.register
def _complete_objective(
    act: CompleteObjectiveAct, state: SessionState, seq: int
) -> SessionState:
    if all(o.id != act.id for o in state.objectives):
        return state
    objectives = tuple(o for o in state.objectives if o.id != act.id)
    completed = _recent_last(state.completed_objectives, act.id, state.limits.max_completed)
    return changed(state, {"objectives": objectives, "completed_objectives": completed})


@apply_act.register
def _pin(act: PinAct, state: SessionState, seq: int) -> SessionState:
    pin = PinnedItem(id=act.id, text=act.text, seq=seq)
    pins = (pin, *(p for p in state.pins if p.id != act.id))[: state.limits.max_pins]
    return changed(state, {"pins": pins})


@apply_act.register
def _unpin(act: UnpinAct, state: SessionState, seq: int) -> SessionState:
    return changed(state, {"pins": tuple(p for p in state.pins if p.id != act.id)})


def _episode_order(episode: Episode) -> tuple[float, int, str]:
    return (-episode.salience, -episode.seq, episode.text)


@apply_act.register
def _add_episode(act: AddEpisodeAct, state: SessionState, seq: int) -> SessionState:
    salience = act.salience
    for old in state.episodes:
        if old.text == act.text:
            salience = max(salience, old.salience)
    others = [e for e in state.episodes if e.text != act.text]
    new = Episode(text=act.text, salience=salience, seq=seq)
    episodes = tuple(sorted([*others, new], key=_episode_order))[: state.limits.max_episodes]
    return changed(state, {"episodes": episodes})


@apply_act.register
def _flag(act: FlagAct, state: SessionState, seq: int) -> SessionState:
    old = state.flags.get(act.name, FlagState())
    new = FlagState(
        count=old.count + 1,
        detail=act.detail if act.detail is not None else old.detail,
        last_seq=seq,
    )
    flags = put_capped(state.flags, act.name, new, state.limits.max_flags)
    return changed(state, {"flags": flags})


@apply_act.register
def _error(act: ErrorAct, state: SessionState, seq: int) -> SessionState:
    counts = bump(state.error_counts, act.code, state.limits.max_counter_keys)
    return changed(state, {"error_counts": counts})


@apply_act.register
def _strength(act: StrengthAct, state: SessionState, seq: int) -> SessionState:
    counts = bump(state.strength_counts, act.code, state.limits.max_counter_keys)
    return changed(state, {"strength_counts": counts})
