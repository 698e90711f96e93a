"""The events library stays pure: no broker, web or database imports."""

from __future__ import annotations

import ast
from pathlib import Path

import lifeline_events

FORBIDDEN = {"faststream", "fastapi", "asyncpg", "redis", "aiokafka", "httpx", "starlette",
             "socket", "requests", "sqlalchemy"}


def test_no_io_imports_in_the_package() -> None:
    """No module of lifeline_events imports a broker, web, database or network library."""
    root = Path(lifeline_events.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_modules_stay_small() -> None:
    """Each module stays under ~300 lines (one idea per module)."""
    root = Path(lifeline_events.__file__).parent
    sizes = {p.name: len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 300} == {}


def test_public_api_is_exported() -> None:
    """The names other services code against are importable from the package root."""
    for name in ["TOPIC_TURNS", "TOPIC_EVENTS", "TOPIC_LIFECYCLE", "TOPIC_DLQ",
                 "EventValidationError", "NewEvent", "Event", "parse_new_event", "new_event_id",
                 "EVENT_TYPES", "register_upcaster", "SessionState", "apply", "fold",
                 "canonical_json", "content_hash", "score_turn", "Scorer", "estimate_tokens"]:
        assert name in lifeline_events.__all__ and hasattr(lifeline_events, name)
