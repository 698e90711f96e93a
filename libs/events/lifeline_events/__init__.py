"""Lifeline's shared event schema: envelope, payloads, registry, topics and the
session-state fold. Pure: no I/O, no broker, web or database imports.
"""

from __future__ import annotations

from .acts import (
    ACT_TYPES,
    Act,
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
from .canonical import canonical_json, content_hash
from .envelope import Event, NewEvent, parse_new_event, validate_traceparent
from .errors import EventsError, EventValidationError, SessionMismatchError
from .fold import apply, fold
from .ids import new_event_id
from .payloads import (
    MAX_TURN_TEXT_CHARS,
    ModelAnomalyDetected,
    ModelCallRecorded,
    ModelStateChanged,
    PayloadModel,
    ProfileConsolidated,
    ProfileForgotten,
    SessionFinished,
    SessionRestored,
    SessionStarted,
    SnapshotCreated,
    TurnEvaluated,
    TurnRecorded,
)
from .registry import (
    CURRENT_SCHEMA_VERSIONS,
    EVENT_TYPES,
    UpcastError,
    current_version,
    register_upcaster,
    upcast,
)
from .salience import RuleBasedScorer, Scorer, score_turn
from .state import (
    Episode,
    FlagState,
    ModelStats,
    Objective,
    PinnedItem,
    SessionState,
    StateLimits,
    SummaryLine,
    TurnRecord,
)
from .summary import estimate_tokens
from .topics import TOPIC_DLQ, TOPIC_EVENTS, TOPIC_LIFECYCLE, TOPIC_TURNS

__all__ = [
    "ACT_TYPES",
    "CURRENT_SCHEMA_VERSIONS",
    "EVENT_TYPES",
    "MAX_TURN_TEXT_CHARS",
    "TOPIC_DLQ",
    "TOPIC_EVENTS",
    "TOPIC_LIFECYCLE",
    "TOPIC_TURNS",
    "Act",
    "AddEpisodeAct",
    "CompleteObjectiveAct",
    "ConfirmFactAct",
    "Episode",
    "ErrorAct",
    "Event",
    "EventValidationError",
    "EventsError",
    "FlagAct",
    "FlagState",
    "ModelAnomalyDetected",
    "ModelCallRecorded",
    "ModelStateChanged",
    "ModelStats",
    "NewEvent",
    "Objective",
    "PayloadModel",
    "PinAct",
    "PinnedItem",
    "ProfileConsolidated",
    "ProfileForgotten",
    "RetractFactAct",
    "RuleBasedScorer",
    "Scorer",
    "SessionFinished",
    "SessionMismatchError",
    "SessionRestored",
    "SessionStarted",
    "SessionState",
    "SetObjectiveAct",
    "SetStageAct",
    "SnapshotCreated",
    "StateLimits",
    "StrengthAct",
    "SummaryLine",
    "TurnEvaluated",
    "TurnRecord",
    "TurnRecorded",
    "UnpinAct",
    "UpcastError",
    "apply",
    "canonical_json",
    "content_hash",
    "current_version",
    "estimate_tokens",
    "fold",
    "new_event_id",
    "parse_new_event",
    "register_upcaster",
    "score_turn",
    "upcast",
    "validate_traceparent",
]
