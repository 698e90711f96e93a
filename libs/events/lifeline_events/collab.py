"""Collaboration payloads: who is in a session's room, who holds which lock, which
conflicting batches wait for a decision, and where a branch came from.

Every one of these is written by ingest's own write-side routes (participants, locks,
conflict resolution, branches), never accepted from a producer's plain append, so the
rules that decide them (ingest's domain) are the only way into the log. They are still
ordinary events: they replay, they fold, and a reconnecting client sees the room.

Scopes name what an act touches (``act_scope``): ``stage``, ``fact:<key>``,
``objective:<id>``, ``pin:<id>``. A lock on ``state`` covers every scope. Counters,
flags and episodes only accumulate, so two writers never conflict over them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue, StringConstraints

from ._base import MAX_INT64, BoundedUtcDatetime, FrozenModel, Name, ScopeId
from .acts import (
    Act,
    CompleteObjectiveAct,
    ConfirmFactAct,
    PinAct,
    RetractFactAct,
    SetObjectiveAct,
    SetStageAct,
    UnpinAct,
)

ParticipantRole = Literal["owner", "editor", "viewer"]
ConflictStrategy = Literal[
    "reject", "latest_wins", "automatic_merge", "provider_priority", "user_choice", "manual_merge"
]
"""How a batch prepared against an older ``expected_seq`` is treated (``reject``: 409)."""

LockScope = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=140, pattern=r"^(state|stage|(fact|objective|pin):[^\s].{0,127})$"
    ),
]
"""``state`` (everything), ``stage``, ``fact:<key>``, ``objective:<id>`` or ``pin:<id>``."""

FencingToken = Annotated[int, Field(ge=1, le=MAX_INT64)]
STATE_SCOPE = "state"


def act_scope(act: object) -> str | None:
    """The scope an act changes, or None for acts that only accumulate."""
    match act:
        case SetStageAct():
            return "stage"
        case ConfirmFactAct(key=key) | RetractFactAct(key=key):
            return f"fact:{key}"
        case SetObjectiveAct(id=oid) | CompleteObjectiveAct(id=oid):
            return f"objective:{oid}"
        case PinAct(id=pid) | UnpinAct(id=pid):
            return f"pin:{pid}"
    return None


def scope_covers(lock_scope: str, scope: str) -> bool:
    """A lock on ``state`` covers every scope; any other lock covers its own scope only."""
    return lock_scope == STATE_SCOPE or lock_scope == scope


class ParticipantJoined(FrozenModel):
    """A participant entered the room, or changed role (a second join replaces the role)."""

    participant_id: ScopeId
    role: ParticipantRole


class ParticipantLeft(FrozenModel):
    """A participant left the room; the locks it held are released with it."""

    participant_id: ScopeId
    reason: Annotated[str, Field(max_length=500)] | None = None


class LockAcquired(FrozenModel):
    """A lease on ``scope`` until ``expires_at``; ``renewed`` keeps the same token.

    ``token`` is the fencing token: strictly greater than every token issued before in
    this session, so a late write carrying an older one is recognisably stale.
    """

    scope: LockScope
    participant_id: ScopeId
    token: FencingToken
    expires_at: BoundedUtcDatetime
    renewed: bool = False


class LockReleased(FrozenModel):
    """A lease ended: released by its holder, expired and taken over, or its holder left."""

    scope: LockScope
    participant_id: ScopeId
    token: FencingToken
    reason: Literal["released", "expired", "left"] = "released"


class ConflictOpened(FrozenModel):
    """A batch that conflicts with what was written since its ``expected_seq`` is parked.

    ``ours`` is the parked batch as submitted (events as JSON), ``theirs`` the current
    value of every conflicting scope (null: absent). Nothing of ``ours`` is applied
    until a ``session.conflict.resolved`` says so.
    """

    conflict_id: Name
    strategy: Literal["user_choice", "manual_merge"]
    participant_id: ScopeId | None = None
    expected_seq: Annotated[int, Field(ge=0, le=MAX_INT64)]
    scopes: Annotated[list[LockScope], Field(min_length=1, max_length=256)]
    ours: Annotated[list[dict[str, JsonValue]], Field(min_length=1, max_length=100)]
    theirs: dict[str, JsonValue] = Field(default_factory=dict)


class ConflictResolved(FrozenModel):
    """An open conflict was decided; ``acts`` are applied as a turn's acts would be."""

    conflict_id: Name
    choice: Literal["ours", "theirs", "merged"]
    resolved_by: ScopeId
    acts: Annotated[list[Act], Field(max_length=256)] = Field(default_factory=list)


class SessionPolicySet(FrozenModel):
    """A session's own conflict rules, replacing any set before.

    ``conflict_strategy`` applies to a batch whose ``expected_seq`` is stale and that names
    no ``on_conflict`` of its own (None: the service's ``LIFELINE_CONFLICT_STRATEGY``).
    ``provider_priority`` ranks sources for ``provider_priority``, highest first: a
    participant's room role (``owner``), a participant id, a turn's ``model_id`` or the
    provider part of it (``openai`` in ``openai/gpt-4o``).
    """

    conflict_strategy: ConflictStrategy | None = None
    provider_priority: Annotated[list[Name], Field(max_length=64)] = Field(default_factory=list)
    set_by: ScopeId | None = None


class SessionBranched(FrozenModel):
    """This session continues ``parent_session_id``'s history up to ``from_seq``.

    The parent's events up to ``from_seq`` are this session's too, by reference: the log
    serves them re-scoped to the branch; they are not copied.
    """

    parent_session_id: ScopeId
    from_seq: Annotated[int, Field(ge=0, le=MAX_INT64)]
    name: Name | None = None
