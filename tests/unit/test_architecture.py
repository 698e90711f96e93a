"""The layering of the tree, pinned: what may import what, what stays pure, what stays small.

The rules are read from the tree itself, so a new library under ``libs/``, a new service
under ``services/`` or a new tool under ``tools/`` is covered the day it appears:

- a service imports no other service (services talk over topics and HTTP, docs/architecture.md);
- a library imports no service and no tool (libraries are what services are built from);
- a service imports no tool (tools are run, never shipped in a service's image);
- a pure module imports no I/O library. Pure are: the whole events library, every
  service's ``domain`` module, the modules this file names, and any module whose
  docstring's first line declares it (``(pure)``, ``Pure …``, ``… pure:``);
- every module of libs/, services/ and tools/ stays under 300 lines (one idea a module).

Imports are read with ``ast``, never executed, so the check sees every import statement,
including those inside functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("libs", "services", "tools")
MAX_LINES = 300

# Libraries that do network, database, broker or web I/O (top-level import names).
IO_LIBRARIES = frozenset({
    "aiohttp", "aiokafka", "asyncpg", "fastapi", "faststream", "httpx", "kafka", "psycopg",
    "psycopg2", "redis", "requests", "socket", "sqlalchemy", "starlette", "urllib3", "uvicorn",
    "websockets",
})

# Modules named as pure before the docstring marker existed, by dotted name; a tuple lists
# the names one module may go by during a move. Each entry must still name a module that
# exists, so a rename cannot silently drop a module from the rule.
NAMED_PURE: tuple[tuple[str, ...], ...] = (
    ("lifeline_replay.context",),
    ("lifeline_replay.bias",),
    ("lifeline_replay.keys",),
    ("lifeline_snapshot.recap",),
    ("lifeline_snapshot.export.bundle",),
    ("lifeline_events.redaction",),
    ("lifeline_snapshot.wal.view",),
)
PURE_PACKAGES = frozenset({"lifeline_events"})
PURE_STEMS = frozenset({"domain"})
# A docstring's first line declares purity with "(pure)", by opening with "Pure", or with
# "pure" followed by ".", ":" or "," ("The trace store's rules, pure: no I/O").
PURE_MARKER = re.compile(r"\(pure\)|\bpure[.:,]|^pure\b", re.IGNORECASE)


@dataclass(frozen=True)
class Module:
    """One Python module of the tree: where it is, whose it is and what it imports."""

    path: Path
    kind: str  # "libs", "services" or "tools"
    package: str  # top-level import name, e.g. "lifeline_ingest"
    name: str  # dotted module name, e.g. "lifeline_ingest.domain"
    tree: ast.Module
    lines: int

    @property
    def imports(self) -> set[str]:
        """Absolute dotted names this module imports (relative imports stay in the package)."""
        names: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        return names

    @property
    def declared_pure(self) -> bool:
        """The first line of the module's docstring says it is pure."""
        doc = ast.get_docstring(self.tree) or ""
        return bool(PURE_MARKER.search(doc.strip().splitlines()[0] if doc.strip() else ""))


def discover(root: Path) -> list[Module]:
    """Every module under ``<kind>/<member>/lifeline_*/`` of the three kinds, parsed."""
    modules = []
    for kind in KINDS:
        for package_dir in sorted(root.glob(f"{kind}/*/lifeline_*")):
            if not package_dir.is_dir():
                continue
            for path in sorted(package_dir.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                rel = path.relative_to(package_dir.parent).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                text = path.read_text(encoding="utf-8")
                modules.append(Module(path, kind, package_dir.name, ".".join(parts),
                                      ast.parse(text, filename=str(path)), len(text.splitlines())))
    return modules


def packages_by_kind(modules: list[Module]) -> dict[str, set[str]]:
    """Which top-level packages are libraries, services and tools."""
    kinds: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for module in modules:
        kinds[module.kind].add(module.package)
    return kinds


def layering_violations(modules: list[Module]) -> list[str]:
    """Imports across the layers: service → other service, lib → service or tool, service → tool."""
    kinds = packages_by_kind(modules)
    forbidden = {
        "libs": kinds["services"] | kinds["tools"],
        "services": kinds["services"] | kinds["tools"],
        "tools": set(),
    }
    found = []
    for module in modules:
        for name in sorted(module.imports):
            top = name.split(".")[0]
            if top != module.package and top in forbidden[module.kind]:
                found.append(f"{module.name} ({module.kind}) imports {name}")
    return found


def is_pure(module: Module, named: set[str]) -> bool:
    """Whether the module must stay free of I/O imports."""
    stem = module.name.rsplit(".", 1)[-1]
    return (module.package in PURE_PACKAGES or module.name in named or module.declared_pure
            or (module.kind == "services" and stem in PURE_STEMS))


def purity_violations(
    modules: list[Module], named_pure: tuple[tuple[str, ...], ...] = NAMED_PURE
) -> list[str]:
    """I/O libraries imported by pure modules, and named pure modules that no longer exist."""
    existing = {module.name for module in modules}
    named = {name for names in named_pure for name in names}
    found = [f"named pure module missing: one of {names}" for names in named_pure
             if not existing & set(names)]
    for module in modules:
        if is_pure(module, named):
            found += [f"{module.name} (pure) imports {name}" for name in sorted(module.imports)
                      if name.split(".")[0] in IO_LIBRARIES]
    return found


def size_violations(modules: list[Module], limit: int = MAX_LINES) -> list[str]:
    """Modules at or over the line limit."""
    return [f"{module.name}: {module.lines} lines" for module in modules if module.lines >= limit]


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    """The real tree's modules."""
    found = discover(ROOT)
    assert found, f"no modules discovered under {ROOT}"
    return found


def test_the_tree_is_discovered(modules: list[Module]) -> None:
    """Discovery finds libraries, services and tools, so the rules below are not vacuous."""
    kinds = packages_by_kind(modules)
    assert {"lifeline_events", "lifeline_bus"} <= kinds["libs"]
    assert {"lifeline_ingest", "lifeline_replay"} <= kinds["services"]
    assert "lifeline_testing" in kinds["tools"]


def test_layers_import_only_downwards(modules: list[Module]) -> None:
    """No service imports another service; libraries import no service or tool; services no tool."""
    assert layering_violations(modules) == []


def test_pure_modules_import_no_io_library(modules: list[Module]) -> None:
    """The events library, every service's domain and every declared-pure module stay free of I/O."""
    assert purity_violations(modules) == []


def test_modules_stay_small(modules: list[Module]) -> None:
    """Every module of libs/, services/ and tools/ stays under 300 lines (tests excluded)."""
    assert size_violations(modules) == []


# --- the checker itself, on a synthetic tree ---------------------------------------------

def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    """A tiny tree with one of every violation and one clean module of every kind."""
    _write(tmp_path, "libs/base/lifeline_base/__init__.py", '"""A clean library."""\nimport json\n')
    _write(tmp_path, "libs/base/lifeline_base/leaky.py", "from lifeline_alpha.api import x\n")
    _write(tmp_path, "libs/base/lifeline_base/toolish.py", "import lifeline_kit.helpers\n")
    _write(tmp_path, "services/alpha/lifeline_alpha/__init__.py", "from . import api\n")
    _write(tmp_path, "services/alpha/lifeline_alpha/api.py",
           "import fastapi\nfrom lifeline_base import leaky\n\ndef f():\n    import lifeline_beta\n")
    _write(tmp_path, "services/alpha/lifeline_alpha/domain.py", "from redis import Redis\n")
    _write(tmp_path, "services/alpha/lifeline_alpha/rules.py", '"""The rules (pure)."""\nimport httpx\n')
    _write(tmp_path, "services/alpha/lifeline_alpha/big.py", "x = 1\n" * MAX_LINES)
    _write(tmp_path, "services/beta/lifeline_beta/__init__.py",
           '"""Pure beta."""\nfrom lifeline_kit import helpers\n')
    _write(tmp_path, "tools/kit/lifeline_kit/helpers.py", "import lifeline_alpha\nimport asyncpg\n")
    return tmp_path


def test_checker_finds_every_kind_of_layering_violation(synthetic: Path) -> None:
    """Service → service (even inside a function), lib → service, lib → tool and service → tool fail."""
    found = layering_violations(discover(synthetic))
    assert sorted(found) == sorted([
        "lifeline_base.leaky (libs) imports lifeline_alpha.api",
        "lifeline_base.toolish (libs) imports lifeline_kit.helpers",
        "lifeline_alpha.api (services) imports lifeline_beta",
        "lifeline_beta (services) imports lifeline_kit",
    ])


def test_checker_finds_io_in_pure_modules(synthetic: Path) -> None:
    """A domain module, a docstring-declared pure module and a named one may not import I/O."""
    modules = discover(synthetic)
    found = purity_violations(modules, named_pure=(("lifeline_kit.helpers",),))
    assert sorted(found) == sorted([
        "lifeline_alpha.domain (pure) imports redis",
        "lifeline_alpha.rules (pure) imports httpx",
        "lifeline_kit.helpers (pure) imports asyncpg",
    ])
    assert purity_violations(modules, named_pure=(("lifeline_gone", "lifeline_gone.moved"),)) == [
        "named pure module missing: one of ('lifeline_gone', 'lifeline_gone.moved')",
        "lifeline_alpha.domain (pure) imports redis",
        "lifeline_alpha.rules (pure) imports httpx",
    ]


def test_checker_finds_big_modules(synthetic: Path) -> None:
    """A module of 300 lines or more is reported; the small ones are not."""
    assert size_violations(discover(synthetic)) == [f"lifeline_alpha.big: {MAX_LINES} lines"]
