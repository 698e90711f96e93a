"""The project explains itself from inside the repository: links resolve, the layout is true,
and code cites docs/ rather than notes that only exist outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted(ROOT.glob("libs/*/lifeline_*/README.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Citations of design notes that live beside the repository, not in it.
OUTSIDE = re.compile(r"\.\./shared|DESIGN\.md|DESIGN §|FASTSTREAM-NOTES|PERF-NOTES|STYLE\.md")
CITING = ("libs", "services", "tools", "tests", "bench", "deploy", "docs")
ROOT_FILES = ("Makefile", "Dockerfile", "docker-compose.yml", "pyproject.toml", "README.md", ".ci/run")


def test_docs_pages_exist() -> None:
    """docs/ has its index and the three pages the README and the code point at."""
    assert {"README.md", "architecture.md", "events.md", "operations.md"} <= {
        p.name for p in (ROOT / "docs").glob("*.md")}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    """Every relative Markdown link of the page names a file or folder that exists."""
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t]
    assert [t for t in targets if not (page.parent / t).exists()] == []


def test_readme_layout_names_every_member() -> None:
    """README's Layout block names every library, service and tool folder of the tree."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    members = [p.name for kind in ("libs", "services", "tools") for p in sorted((ROOT / kind).iterdir())
               if list(p.glob("lifeline_*"))]
    assert [m for m in members if not re.search(rf"\b{m}\b", layout)] == []


def test_code_cites_no_notes_outside_the_repository() -> None:
    """No comment or docstring points at DESIGN.md, FASTSTREAM-NOTES, PERF-NOTES or STYLE.md."""
    files = [path for folder in CITING for path in sorted((ROOT / folder).rglob("*"))
             if path.suffix in {".py", ".md", ".yml", ".yaml", ".sql", ".toml", ".json"}]
    files += [ROOT / name for name in ROOT_FILES if (ROOT / name).exists()]
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in files if path != Path(__file__)
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert offenders == []
