"""Payload models, one per event type.

The envelope's ``event_type`` picks the model (see ``registry.EVENT_TYPES``); the
payload itself carries no type tag, so the wire stays as in docs/events.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import to_jsonable_python

from ._base import (
    MAX_INT64,
    BoundedUtcDatetime,
    Code,
    FrozenModel,
    Name,
    NonNegInt,
    ScopeId,
    Score,
    Unit,
)
from .acts import Act
from .canonical import content_hash
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
from .state import SessionState

MAX_TURN_TEXT_CHARS = 32_768
"""Longest turn text accepted; the event size limit (64 KiB) is ingest's concern."""

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

Role = Literal["user", "assistant", "system", "tool"]
ModelLifecycleState = Literal["SHADOW", "CANDIDATE", "PRIMARY", "ACTIVE", "QUARANTINED"]
Label = Annotated[str, Field(max_length=500)]
CodeList = Annotated[list[Code], Field(max_length=256)]
EvidenceValue = bool | Annotated[int, Field(ge=-MAX_INT64, le=MAX_INT64)] | float | Label | None


class SessionStarted(FrozenModel):
    """A session began (optional: the first turn also starts one implicitly)."""

    channel: Name | None = None
    locale: Annotated[str, Field(max_length=35)] | None = None
    initial_stage: Name | None = None
    metadata: Annotated[dict[Name, Label], Field(max_length=64)] = Field(default_factory=dict)


class TurnRecorded(FrozenModel):
    """One conversational turn and the state changes (``acts``) it carries.

    ``salience`` is filled by ingest's scorer when the producer leaves it out, so every
    consumer folds the same number.
    """

    role: Role
    text: Annotated[str, Field(max_length=MAX_TURN_TEXT_CHARS)]
    intent: Name | None = None
    model_id: Name | None = None
    model_score: Score | None = None
    success: bool | None = None
    latency_ms: NonNegInt | None = None
    salience: Unit | None = None
    acts: Annotated[list[Act], Field(max_length=256)] = Field(default_factory=list)


class TurnEvaluated(FrozenModel):
    """A grader's verdict on one turn (``turn_id`` names the graded turn)."""

    turn_id: NonNegInt
    errors: CodeList = Field(default_factory=list)
    strengths: CodeList = Field(default_factory=list)
    skill_tags: CodeList = Field(default_factory=list)
    score: Score | None = None
    grader: Name | None = None


class SessionFinished(FrozenModel):
    """The session ended; triggers a snapshot and memory consolidation."""

    reason: Label | None = None


class SessionRestored(FrozenModel):
    """The session was rolled back to a snapshot; ``state`` replaces the fold's state.

    ``content_hash`` must be the SHA-256 of the canonical JSON of ``state`` exactly as
    carried, so a corrupted or hand-edited snapshot cannot be restored silently.
    ``state`` also accepts a ``SessionState`` and is stored as its JSON form.
    """

    snapshot_id: Name
    content_hash: str
    state: dict[str, Any]

    @field_validator("state", mode="before")
    @classmethod
    def _jsonable(cls, value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if isinstance(value, dict):
            return to_jsonable_python(value)
        return value

    @field_validator("state")
    @classmethod
    def _valid_state(cls, value: dict[str, Any]) -> dict[str, Any]:
        SessionState.model_validate(value)
        return value

    @field_validator("content_hash")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256_HEX.match(value):
            raise ValueError("content_hash must be 64 lowercase hex characters (SHA-256)")
        return value

    @model_validator(mode="after")
    def _hash_matches(self) -> SessionRestored:
        actual = content_hash(self.state)
        if actual != self.content_hash:
            raise ValueError(
                f"content_hash {self.content_hash} does not match the state ({actual})"
            )
        return self

    def session_state(self) -> SessionState:
        """The state to restore, as a model."""
        return SessionState.model_validate(self.state)


class SnapshotCreated(FrozenModel):
    """A snapshot of the session's state at ``at_seq`` was stored."""

    snapshot_id: Name
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    at_seq: NonNegInt
    trigger: Literal["periodic", "finished", "on_demand", "import"] = "periodic"
    label: Label | None = None


class ProfileConsolidated(FrozenModel):
    """A person's long-term profile (S3) was updated from a finished session."""

    person_id: ScopeId
    source_session_id: ScopeId | None = None
    profile_version: Annotated[int, Field(ge=1, le=MAX_INT64)] = 1
    sessions_count: NonNegInt = 0
    top_errors: CodeList = Field(default_factory=list)
    top_strengths: CodeList = Field(default_factory=list)
    skill_tags: CodeList = Field(default_factory=list)
    compliance_flags: CodeList = Field(default_factory=list)
    summary: Annotated[str, Field(max_length=4000)] | None = None


class ProfileForgotten(FrozenModel):
    """Memory erased a person's (or one session's) derived data; downstream stores purge too."""

    person_id: ScopeId
    scope: Literal["person", "session"]
    session_id: ScopeId | None = None
    reason: Label | None = None


class ModelCallRecorded(FrozenModel):
    """One model call and its outcome (governance's raw input)."""

    model_id: Name
    intent: Name | None = None
    score: Score | None = None
    success: bool
    latency_ms: NonNegInt | None = None
    turn_id: NonNegInt | None = None
    tokens_in: NonNegInt | None = None
    tokens_out: NonNegInt | None = None
    error: Label | None = None


class ModelStateChanged(FrozenModel):
    """Governance moved a model between lifecycle states; ``inputs`` are the evidence."""

    model_id: Name
    intent: Name | None = None
    from_state: ModelLifecycleState | None = None
    to_state: ModelLifecycleState
    reason: Label
    effective_score: float | None = None
    inputs: dict[Name, EvidenceValue] = Field(default_factory=dict)


class ModelAnomalyDetected(FrozenModel):
    """A model's score dropped sharply between two windows."""

    model_id: Name
    intent: Name | None = None
    previous_score: Score
    current_score: Score
    drop: Score
    window_start: BoundedUtcDatetime | None = None
    window_end: BoundedUtcDatetime | None = None
    detail: Label | None = None


PayloadModel = (
    SessionStarted
    | TurnRecorded
    | TurnEvaluated
    | SessionFinished
    | SessionRestored
    | SnapshotCreated
    | ProfileConsolidated
    | ProfileForgotten
    | ModelCallRecorded
    | ModelStateChanged
    | ModelAnomalyDetected
    | ParticipantJoined
    | ParticipantLeft
    | LockAcquired
    | LockReleased
    | ConflictOpened
    | ConflictResolved
    | SessionBranched
    | SessionPolicySet
)
"""Any payload; the envelope chooses the member by ``event_type``."""
