"""How collaboration events change a session's room: pure, one function per event.

The room records decisions ingest already made (who may join, who gets a lock, which
batch is parked); the fold only writes them down, so replaying a log rebuilds exactly
the room the writers saw. Acts carried by a conflict's resolution are applied like a
turn's acts.
"""

from __future__ import annotations

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
from .evolve_acts import apply_act
from .state import BranchOrigin, Lease, OpenConflict, Participant, Room, RoomPolicy, SessionState


def _room(state: SessionState) -> Room:
    return state.room if state.room is not None else Room()


def _with_room(state: SessionState, room: Room) -> SessionState:
    return state.model_copy(update={"room": room})


def participant_joined(payload: ParticipantJoined, state: SessionState, seq: int) -> SessionState:
    room = _room(state)
    old = room.participants.get(payload.participant_id)
    joined = Participant(role=payload.role, joined_seq=old.joined_seq if old else seq)
    return _with_room(state, room.model_copy(
        update={"participants": {**room.participants, payload.participant_id: joined}}))


def participant_left(payload: ParticipantLeft, state: SessionState, seq: int) -> SessionState:
    room = _room(state)
    pid = payload.participant_id
    return _with_room(state, room.model_copy(update={
        "participants": {k: v for k, v in room.participants.items() if k != pid},
        "locks": {k: v for k, v in room.locks.items() if v.participant_id != pid},
    }))


def lock_acquired(payload: LockAcquired, state: SessionState, seq: int) -> SessionState:
    room = _room(state)
    lease = Lease(participant_id=payload.participant_id, token=payload.token,
                  expires_at=payload.expires_at, seq=seq)
    return _with_room(state, room.model_copy(update={
        "locks": {**room.locks, payload.scope: lease},
        "lock_token": max(room.lock_token, payload.token),
    }))


def lock_released(payload: LockReleased, state: SessionState, seq: int) -> SessionState:
    room = _room(state)
    held = room.locks.get(payload.scope)
    if held is None or held.token != payload.token:
        return state  # already replaced by a newer lease: nothing of the newer one ends
    return _with_room(state, room.model_copy(
        update={"locks": {k: v for k, v in room.locks.items() if k != payload.scope}}))


def conflict_opened(payload: ConflictOpened, state: SessionState, seq: int) -> SessionState:
    room = _room(state)
    conflict = OpenConflict(conflict_id=payload.conflict_id, strategy=payload.strategy,
                            participant_id=payload.participant_id,
                            scopes=tuple(payload.scopes), seq=seq)
    others = tuple(c for c in room.open_conflicts if c.conflict_id != payload.conflict_id)
    return _with_room(state, room.model_copy(update={"open_conflicts": (*others, conflict)}))


def conflict_resolved(payload: ConflictResolved, state: SessionState, seq: int) -> SessionState:
    room = _room(state)
    state = _with_room(state, room.model_copy(update={"open_conflicts": tuple(
        c for c in room.open_conflicts if c.conflict_id != payload.conflict_id)}))
    for act in payload.acts:
        state = apply_act(act, state, seq)
    return state


def policy_set(payload: SessionPolicySet, state: SessionState, seq: int) -> SessionState:
    policy = RoomPolicy(conflict_strategy=payload.conflict_strategy,
                        provider_priority=tuple(payload.provider_priority))
    return _with_room(state, _room(state).model_copy(update={"policy": policy}))


def session_branched(payload: SessionBranched, state: SessionState, seq: int) -> SessionState:
    origin = BranchOrigin(parent_session_id=payload.parent_session_id,
                          from_seq=payload.from_seq, name=payload.name)
    return state.model_copy(update={"branched_from": origin})


def keep_across_restore(before: SessionState, restored: SessionState) -> SessionState:
    """A restore rolls back content, not the room: who is in it, the locks, the open
    conflicts and the fencing counter stay as they were (tokens never go back)."""
    room = before.room
    if room is not None and restored.room is not None:
        room = room.model_copy(update={"lock_token": max(room.lock_token, restored.room.lock_token)})
    return restored.model_copy(update={"room": room, "branched_from": before.branched_from})
