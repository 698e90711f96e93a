"""memory (and ingest in front of it) as real processes on real PostgreSQL and a real bus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lifeline_testing.tracestore import Services, services


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Services]:
    """Start service processes for one test; all are killed at its end."""
    with services(tmp_path) as running:
        yield running
