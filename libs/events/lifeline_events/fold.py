"""The session-state fold: ``apply(state, event) -> state``, pure and deterministic.

Used by replay, snapshot and the tests' oracle, so all three agree on what a session
is. Guarantees:

- Same events in, byte-identical ``canonical_json`` out.
- Idempotent: an event whose ``seq`` is at or below ``state.seq`` is skipped, so
  redeliveries and duplicates change nothing (and no set of seen ids is kept).
- ``fold`` sorts by ``seq``, so the order of the list it is given does not matter.
- Bounded: every collection in the state has a cap in ``state.limits``.
- Resumable: folding the rest of a log onto a state restored from its JSON gives the
  same bytes as folding the whole log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import singledispatch
from typing import Any

from pydantic import BaseModel

from . import evolve_room
from .collab import (
    ConflictOpened,
    ConflictResolved,
    LockAcquired,
    LockReleased,
    ParticipantJoined,
    ParticipantLeft,
    SessionBranched,
    SessionPolicySet,
)
from .envelope import Event
from .errors import SessionMismatchError
from .evolve_acts import apply_act, bump, changed, put_capped
from .payloads import (
    ModelAnomalyDetected,
    ModelCallRecorded,
    ModelStateChanged,
    ProfileConsolidated,
    SessionFinished,
    SessionRestored,
    SessionStarted,
    SnapshotCreated,
    TurnEvaluated,
    TurnRecorded,
)
from .salience import score_turn
from .state import ModelStats, SessionState, TurnRecord
from .summary import fold_turns_into_summary


def apply(state: SessionState, event: Event) -> SessionState:
    """Apply one event; events at or below ``state.seq`` are ignored.

    Raises ``SessionMismatchError`` if the event belongs to another session or tenant
    than a state that already has one.
    """
    if event.seq <= state.seq:
        return state
    _check_scope(state, event)
    scoped = changed(
        state,
        {
            "seq": event.seq,
            "tenant_id": event.tenant_id,
            "session_id": event.session_id,
            "person_id": event.person_id or state.person_id,
        }
    )
    return _evolve(event.payload, scoped, event)


def fold(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    """Fold ``events`` (any order; sorted by ``seq`` here) onto ``state`` (or empty)."""
    current = state if state is not None else SessionState()
    for event in sorted(events, key=lambda e: e.seq):
        current = apply(current, event)
    return current


def _check_scope(state: SessionState, event: Event) -> None:
    for field in ("tenant_id", "session_id"):
        have, got = getattr(state, field), getattr(event, field)
        if have is not None and have != got:
            raise SessionMismatchError(
                f"event seq {event.seq} has {field} {got!r} but the state is for {have!r}"
            )


@singledispatch
def _evolve(payload: BaseModel, state: SessionState, event: Event) -> SessionState:
    """Default: the event only advances ``seq`` (announcements, governance records)."""
    return state


@_evolve.register
def _session_started(payload: SessionStarted, state: SessionState, event: Event) -> SessionState:
    return changed(state, {"started": True, "stage": payload.initial_stage or state.stage})


@_evolve.register
def _turn_recorded(payload: TurnRecorded, state: SessionState, event: Event) -> SessionState:
    salience = payload.salience if payload.salience is not None else score_turn(payload)
    turn = TurnRecord(
        seq=event.seq,
        turn_id=event.turn_id,
        role=payload.role,
        text=payload.text,
        intent=payload.intent,
        salience=salience,
    )
    window = (*state.recent_turns, turn)
    keep = state.limits.recent_turns
    evicted, recent = window[:-keep], window[-keep:]
    lines, summary = state.summary_lines, state.summary
    if evicted:
        lines, summary = fold_turns_into_summary(
            state.summary_lines, evicted, state.limits.summary_budget_tokens
        )
    last_turn_id = state.last_turn_id
    if event.turn_id is not None:
        last_turn_id = max(event.turn_id, last_turn_id if last_turn_id is not None else -1)
    state = changed(
        state,
        {
            "turn_count": state.turn_count + 1,
            "last_turn_id": last_turn_id,
            "intent": payload.intent or state.intent,
            "recent_turns": recent,
            "summary_lines": lines,
            "summary": summary,
            "model_stats": _model_stats(state, payload),
        }
    )
    for act in payload.acts:
        state = apply_act(act, state, event.seq)
    return state


def _model_stats(state: SessionState, payload: TurnRecorded) -> dict[str, ModelStats]:
    """Per-model counts from assistant turns (``model.call.recorded`` is governance's)."""
    if payload.model_id is None:
        return state.model_stats
    old = state.model_stats.get(payload.model_id, ModelStats())
    scored = payload.model_score is not None
    new = ModelStats(
        calls=old.calls + 1,
        successes=old.successes + (payload.success is True),
        failures=old.failures + (payload.success is False),
        score_sum=old.score_sum + (payload.model_score or 0.0),
        score_count=old.score_count + scored,
        latency_ms_total=old.latency_ms_total + (payload.latency_ms or 0),
    )
    return put_capped(state.model_stats, payload.model_id, new, state.limits.max_models)


@_evolve.register
def _turn_evaluated(payload: TurnEvaluated, state: SessionState, event: Event) -> SessionState:
    cap = state.limits.max_counter_keys
    errors, strengths, tags = state.error_counts, state.strength_counts, state.skill_tag_counts
    for code in payload.errors:
        errors = bump(errors, code, cap)
    for code in payload.strengths:
        strengths = bump(strengths, code, cap)
    for tag in payload.skill_tags:
        tags = bump(tags, tag, cap)
    score = payload.score if payload.score is not None else state.last_evaluation_score
    return changed(
        state,
        {
            "error_counts": errors,
            "strength_counts": strengths,
            "skill_tag_counts": tags,
            "evaluation_count": state.evaluation_count + 1,
            "last_evaluation_score": score,
        }
    )


@_evolve.register
def _session_finished(
    payload: SessionFinished, state: SessionState, event: Event
) -> SessionState:
    return changed(state, {"finished": True, "finish_reason": payload.reason})


@_evolve.register
def _session_restored(
    payload: SessionRestored, state: SessionState, event: Event
) -> SessionState:
    """Replace the state by the snapshot's, re-homed to this session at this ``seq``.

    ``seq`` keeps advancing (it is the log position, not the snapshot's), so events
    after the restore apply and redeliveries before it stay ignored.
    """
    restored = payload.session_state()
    return evolve_room.keep_across_restore(state, restored.model_copy(
        update={
            "seq": state.seq,
            "tenant_id": state.tenant_id,
            "session_id": state.session_id,
            "person_id": restored.person_id or state.person_id,
            "restored_from": payload.snapshot_id,
        }
    ))


def _announcement(payload: BaseModel, state: SessionState, event: Event) -> SessionState:
    """Lifecycle announcements and governance records do not change session context."""
    return state


for _payload_type in (
    SnapshotCreated,
    ProfileConsolidated,
    ModelCallRecorded,
    ModelStateChanged,
    ModelAnomalyDetected,
):
    _evolve.register(_payload_type, _announcement)


_ROOM_RULES: dict[type[BaseModel], Callable[[Any, SessionState, int], SessionState]] = {
    ParticipantJoined: evolve_room.participant_joined,
    ParticipantLeft: evolve_room.participant_left,
    LockAcquired: evolve_room.lock_acquired,
    LockReleased: evolve_room.lock_released,
    ConflictOpened: evolve_room.conflict_opened,
    ConflictResolved: evolve_room.conflict_resolved,
    SessionBranched: evolve_room.session_branched,
    SessionPolicySet: evolve_room.policy_set,
}


def _room_event(payload: BaseModel, state: SessionState, event: Event) -> SessionState:
    """Collaboration events: see ``evolve_room``."""
    return _ROOM_RULES[type(payload)](payload, state, event.seq)


for _room_type in _ROOM_RULES:
    _evolve.register(_room_type, _room_event)
