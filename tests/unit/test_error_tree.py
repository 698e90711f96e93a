"""The error tree drawn in lifeline_common/errors.py is the tree in the code.

Every `…Error` class of the libraries and of the services that follow the tree is drawn
there, derives from `LifelineError` (or is one of the API layer's own, named below), and
carries no HTTP status: statuses are servicekit's mapping of error kinds.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from lifeline_common.errors import LifelineError

ROOT = Path(__file__).resolve().parents[2]
TREE = (ROOT / "libs/common/lifeline_common/errors.py").read_text()
FOLLOWING = [ROOT / "libs", *(ROOT / "services" / s for s in ("ingest", "replay", "snapshot", "tracestore"))]
API_LAYER = {"ProblemError"}  # servicekit's direct answer: a status by design


def _error_classes() -> list[tuple[str, str]]:
    """(module, class name) of every class named `…Error` under the following packages."""
    found = []
    for base in FOLLOWING:
        for path in sorted(base.rglob("lifeline_*/**/*.py")):
            parts = path.with_suffix("").parts
            start = next(i for i, part in enumerate(parts) if part.startswith("lifeline_"))
            module = ".".join(parts[start:])
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                    found.append((module.removesuffix(".__init__"), node.name))
    return found


ERRORS = _error_classes()


def test_the_walk_finds_the_errors() -> None:
    """The walk sees the known errors (it cannot pass by finding nothing)."""
    names = {name for _, name in ERRORS}
    assert {"StoreConflictError", "EventValidationError", "IntakeError", "GapError"} <= names


@pytest.mark.parametrize(("module", "name"), ERRORS, ids=[n for _, n in ERRORS])
def test_every_error_is_drawn_rooted_and_statusless(module: str, name: str) -> None:
    """Drawn in the tree, a LifelineError (unless the API layer's own), no `status`."""
    assert f" {name} " in TREE or f" {name}\n" in TREE or f"`{name}`" in TREE, f"{name} is not drawn"
    cls = getattr(importlib.import_module(module), name)
    if name in API_LAYER:
        return
    assert issubclass(cls, LifelineError), f"{module}.{name} is not rooted at LifelineError"
    assert not issubclass(cls, ValueError), f"{module}.{name} is a ValueError"
    assert "status" not in vars(cls), f"{module}.{name} carries a status"
