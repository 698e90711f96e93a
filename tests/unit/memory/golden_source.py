"""How the golden coach log was made (run as a module to regenerate the .jsonl)."""

from __future__ import annotations

from pathlib import Path

from lifeline_events import Event

from .builders import finished, grade, restore, turn

HERE = Path(__file__).parent / "golden"


def coach_log() -> list[Event]:
    """Three sessions of p-7: a re-grade, a restore, a fact contradiction, a compliance slip."""
    s1 = [
        turn(1, 1, text="How much are veneers?", intent="pricing"),
        turn(
            2,
            2,
            role="assistant",
            text="Let me explain",
            intent="pricing",
            acts=[
                {"op": "error", "code": "price_objection_missed"},
                {"op": "strength", "code": "rapport"},
                {"op": "confirm_fact", "key": "preferred_contact", "value": "phone"},
            ],
        ),
        grade(
            3,
            2,
            grader="coach-v2",
            errors=["price_objection_missed", "no_next_step"],
            skill_tags=["discovery"],
        ),
        grade(4, 2, grader="coach-v2", errors=["price_objection_missed"], skill_tags=["discovery"]),
        finished(5),
    ]
    s1 = [e.model_copy(update={"session_id": "s-40"}) for e in s1]
    s2 = [
        turn(1, 1, text="Is it risk-free?", intent="pricing", session="s-41", day=10),
        turn(
            2,
            2,
            role="assistant",
            text="Yes, guaranteed",
            intent="pricing",
            session="s-41",
            day=10,
            acts=[{"op": "error", "code": "price_objection_missed"}, {"op": "flag", "name": "overpromise"}],
        ),
        turn(
            3,
            3,
            text="ok",
            intent="booking",
            session="s-41",
            day=10,
            acts=[{"op": "error", "code": "no_next_step"}],
        ),
    ]
    s2 += [
        restore(4, s2, 2, session="s-41", day=10),
        turn(
            5,
            4,
            role="assistant",
            text="Let's book",
            intent="booking",
            session="s-41",
            day=10,
            acts=[{"op": "strength", "code": "rapport"}, {"op": "error", "code": "no_next_step"}],
        ),
        finished(6, session="s-41", day=10),
    ]
    s3 = [
        turn(
            1,
            1,
            text="Email me instead",
            intent="booking",
            session="s-42",
            day=20,
            acts=[{"op": "confirm_fact", "key": "preferred_contact", "value": "email"}],
        ),
        turn(
            2,
            2,
            role="assistant",
            text="Sure",
            intent="booking",
            session="s-42",
            day=20,
            acts=[{"op": "strength", "code": "rapport"}, {"op": "error", "code": "no_next_step"}],
        ),
        grade(
            3,
            2,
            grader="coach-v2",
            strengths=["rapport"],
            skill_tags=["discovery", "closing"],
            session="s-42",
            day=20,
        ),
        finished(4, session="s-42", day=20),
    ]
    return [*s1, *s2, *s3]


if __name__ == "__main__":
    (HERE / "coach-person.events.jsonl").write_bytes(b"".join(e.to_json_bytes() + b"\n" for e in coach_log()))
