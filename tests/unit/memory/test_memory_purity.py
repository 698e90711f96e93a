"""memory's deciding modules stay pure and small."""

from __future__ import annotations

import ast
from pathlib import Path

import lifeline_memory

PURE = (
    "observe.py",
    "scalars.py",
    "rules.py",
    "liveness.py",
    "digest.py",
    "facts.py",
    "profile.py",
    "summary.py",
    "texts.py",
    "bias.py",
    "policy.py",
    "canonical.py",
    "consolidation.py",
)
FORBIDDEN = {
    "faststream",
    "fastapi",
    "asyncpg",
    "redis",
    "aiokafka",
    "httpx",
    "starlette",
    "socket",
    "lifeline_store",
    "lifeline_bus",
    "lifeline_servicekit",
    "lifeline_projection",
}
ROOT = Path(lifeline_memory.__file__).parent


def test_domain_modules_import_no_io() -> None:
    """The pure modules import no broker, web, database or network library."""
    offenders = []
    for name in PURE:
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_modules_stay_small() -> None:
    """Every module of the package stays under 300 lines."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in ROOT.rglob("*.py")}
    assert {n: s for n, s in sizes.items() if s > 300} == {}
