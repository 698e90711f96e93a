"""Acts: the state changes a turn carries, discriminated by ``op``.

A producer (usually the assistant's turn) says what changed — a stage was reached, a
fact confirmed, an objective set — and the fold applies it. Keeping them as data on
the turn, not as separate events, means one turn is one atomic, deduplicated change.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from pydantic import Field, JsonValue, field_validator

from ._base import Code, FrozenModel, Name, ShortText, Unit

MAX_FACT_VALUE_BYTES = 2048
"""A fact is a small value; large blobs belong in the turn text, not in state."""


class SetStageAct(FrozenModel):
    """The conversation reached a new stage (e.g. ``discovery``)."""

    op: Literal["set_stage"] = "set_stage"
    stage: Name


class ConfirmFactAct(FrozenModel):
    """A fact is now known; a later confirm of the same key overwrites it."""

    op: Literal["confirm_fact"] = "confirm_fact"
    key: Name
    value: JsonValue

    @field_validator("value")
    @classmethod
    def _small(cls, value: JsonValue) -> JsonValue:
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
            raise ValueError(f"fact value is not representable as JSON: {exc}") from None
        if size > MAX_FACT_VALUE_BYTES:
            raise ValueError(f"fact value is {size} bytes of JSON; at most {MAX_FACT_VALUE_BYTES}")
        return value


class RetractFactAct(FrozenModel):
    """A previously confirmed fact no longer holds."""

    op: Literal["retract_fact"] = "retract_fact"
    key: Name


class SetObjectiveAct(FrozenModel):
    """Open (or update) an objective; a higher ``priority`` is more urgent."""

    op: Literal["set_objective"] = "set_objective"
    id: Name
    text: ShortText = ""
    priority: int = Field(0, ge=-1000, le=1000)


class CompleteObjectiveAct(FrozenModel):
    """An open objective is done."""

    op: Literal["complete_objective"] = "complete_objective"
    id: Name


class PinAct(FrozenModel):
    """Keep a piece of text warm (recap lists pins newest first)."""

    op: Literal["pin"] = "pin"
    id: Name
    text: ShortText


class UnpinAct(FrozenModel):
    """Drop a pin."""

    op: Literal["unpin"] = "unpin"
    id: Name


class AddEpisodeAct(FrozenModel):
    """Remember an episode; episodic memory keeps the most salient ones."""

    op: Literal["add_episode"] = "add_episode"
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    salience: Unit = 0.5


class FlagAct(FrozenModel):
    """Raise a named flag (compliance, risk …); repeated flags are counted."""

    op: Literal["flag"] = "flag"
    name: Code
    detail: Annotated[str, Field(max_length=500)] | None = None


class ErrorAct(FrozenModel):
    """Count an error code against the session (memory consolidation reads these)."""

    op: Literal["error"] = "error"
    code: Code


class StrengthAct(FrozenModel):
    """Count a strength code for the session."""

    op: Literal["strength"] = "strength"
    code: Code


Act = Annotated[
    SetStageAct
    | ConfirmFactAct
    | RetractFactAct
    | SetObjectiveAct
    | CompleteObjectiveAct
    | PinAct
    | UnpinAct
    | AddEpisodeAct
    | FlagAct
    | ErrorAct
    | StrengthAct,
    Field(discriminator="op"),
]
"""Any act; pydantic picks the model by ``op``."""

ACT_TYPES: dict[str, type[FrozenModel]] = {
    "set_stage": SetStageAct,
    "confirm_fact": ConfirmFactAct,
    "retract_fact": RetractFactAct,
    "set_objective": SetObjectiveAct,
    "complete_objective": CompleteObjectiveAct,
    "pin": PinAct,
    "unpin": UnpinAct,
    "add_episode": AddEpisodeAct,
    "flag": FlagAct,
    "error": ErrorAct,
    "strength": StrengthAct,
}

ACT_OPS: frozenset[str] = frozenset(ACT_TYPES)
