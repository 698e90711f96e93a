"""Session state: what the fold produces and snapshots store.

Everything that influences a later ``apply`` is a field here (including the limits),
so ``fold(all events)`` and ``fold(events after N, start=snapshot at N)`` agree byte
for byte: no ordering hides in a dict, no setting hides in a module global. Sequences
are tuples so that a state, once built, cannot be changed by anyone holding it.

State models ignore unknown fields (unlike events): a snapshot written by a newer or
older build still restores, with new fields at their defaults.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

_STATE_CONFIG = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class _StateModel(BaseModel):
    model_config = _STATE_CONFIG


class StateLimits(_StateModel):
    """Caps that keep a session's state bounded however long it runs."""

    recent_turns: int = Field(10, ge=1, le=500, description="K: turns kept verbatim (S1)")
    summary_budget_tokens: int = Field(256, ge=8, le=16_384, description="S2 budget")
    max_pins: int = Field(20, ge=1, le=1000)
    max_episodes: int = Field(50, ge=1, le=1000)
    max_facts: int = Field(256, ge=1, le=10_000)
    max_retracted: int = Field(64, ge=1, le=10_000)
    max_objectives: int = Field(64, ge=1, le=10_000)
    max_completed: int = Field(64, ge=1, le=10_000)
    max_flags: int = Field(64, ge=1, le=10_000)
    max_counter_keys: int = Field(128, ge=1, le=10_000)
    max_models: int = Field(16, ge=1, le=1000)


class TurnRecord(_StateModel):
    """One of the last K turns (S1), verbatim."""

    seq: int
    turn_id: int | None = None
    role: str
    text: str
    intent: str | None = None
    salience: float = 0.0


class Objective(_StateModel):
    """An open objective; ``seq`` is when it was last set."""

    id: str
    text: str = ""
    priority: int = 0
    seq: int = 0


class PinnedItem(_StateModel):
    """A warm pin; ``seq`` is when it was (re)pinned."""

    id: str
    text: str
    seq: int = 0


class Episode(_StateModel):
    """An episodic memory with its salience."""

    text: str
    salience: float
    seq: int = 0


class SummaryLine(_StateModel):
    """One sentence of the S2 summary, with the salience used to evict it."""

    seq: int
    text: str
    salience: float


class FlagState(_StateModel):
    """How often a flag was raised, with the latest detail."""

    count: int = 0
    detail: str | None = None
    last_seq: int = 0


class ModelStats(_StateModel):
    """Per-model call statistics within this session."""

    calls: int = 0
    successes: int = 0
    failures: int = 0
    score_sum: float = 0.0
    score_count: int = 0
    latency_ms_total: int = 0


class Participant(_StateModel):
    """Someone in a collaborative session's room."""

    role: str
    joined_seq: int = 0


class Lease(_StateModel):
    """A held edit lock; expiry is judged against the clock when a write arrives."""

    participant_id: str
    token: int
    expires_at: datetime
    seq: int = 0


class OpenConflict(_StateModel):
    """A parked batch waiting for a decision (``session.conflict.opened`` at ``seq``)."""

    conflict_id: str
    strategy: str
    participant_id: str | None = None
    scopes: tuple[str, ...] = ()
    seq: int = 0


def _absent(value: object) -> bool:
    return value is None


class RoomPolicy(_StateModel):
    """A session's own conflict rules (``session.policy.set``); None: the service's setting."""

    conflict_strategy: str | None = None
    provider_priority: tuple[str, ...] = ()


class Room(_StateModel):
    """Who collaborates on a session: participants, held locks, open conflicts.

    ``lock_token`` is the last fencing token issued; it only grows, a restore included.
    """

    participants: dict[str, Participant] = Field(default_factory=dict)
    locks: dict[str, Lease] = Field(default_factory=dict)
    lock_token: int = 0
    open_conflicts: tuple[OpenConflict, ...] = ()
    # absent until a policy is set, so rooms without one hash as they did before
    policy: RoomPolicy | None = Field(None, exclude_if=_absent)


class BranchOrigin(_StateModel):
    """Where a branch's history comes from (by reference, up to ``from_seq``)."""

    parent_session_id: str
    from_seq: int
    name: str | None = None


class SessionState(_StateModel):
    """The recovered context of one session; see the module docstring for guarantees.

    Orderings: ``objectives`` by priority (higher first), then oldest first;
    ``pins`` newest first; ``episodes`` by salience, then newest first;
    ``recent_turns`` and ``summary_lines`` oldest first; ``retracted_facts`` and
    ``completed_objectives`` most recent last.
    """

    tenant_id: str | None = None
    session_id: str | None = None
    person_id: str | None = None
    seq: int = Field(0, ge=0, description="last applied seq; events at or below it are skipped")
    turn_count: int = Field(0, ge=0)
    last_turn_id: int | None = None
    started: bool = False
    finished: bool = False
    finish_reason: str | None = None
    restored_from: str | None = None
    stage: str | None = None
    intent: str | None = None
    confirmed_facts: dict[str, JsonValue] = Field(default_factory=dict)
    retracted_facts: tuple[str, ...] = ()
    objectives: tuple[Objective, ...] = ()
    completed_objectives: tuple[str, ...] = ()
    pins: tuple[PinnedItem, ...] = ()
    episodes: tuple[Episode, ...] = ()
    recent_turns: tuple[TurnRecord, ...] = ()
    summary: str = ""
    summary_lines: tuple[SummaryLine, ...] = ()
    flags: dict[str, FlagState] = Field(default_factory=dict)
    error_counts: dict[str, int] = Field(default_factory=dict)
    strength_counts: dict[str, int] = Field(default_factory=dict)
    skill_tag_counts: dict[str, int] = Field(default_factory=dict)
    evaluation_count: int = 0
    last_evaluation_score: float | None = None
    model_stats: dict[str, ModelStats] = Field(default_factory=dict)
    limits: StateLimits = Field(default_factory=StateLimits)
    # Collaboration: left out of the JSON while absent, so a session that never had a
    # room hashes exactly as it did before rooms existed.
    room: Room | None = Field(None, exclude_if=_absent)
    branched_from: BranchOrigin | None = Field(None, exclude_if=_absent)
